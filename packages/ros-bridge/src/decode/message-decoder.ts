import type { RawMessage, RecordingChannel } from '../recording/recording-reader.ts';
import { DecodeError } from './decode-error.ts';
import { collectDefinitions, type MissingDefinition } from './definition-closure.ts';
import { DefinitionRegistry } from './definition-registry.ts';
import { parseMsgText, type MessageDefinition, type MsgDialect } from './msg-text.ts';
import {
  createCdrPayloadReader,
  createRos1PayloadReader,
  type PayloadReader,
} from './payload-readers.ts';
import { normalizeTypeName } from './type-name.ts';

/**
 * A decoded `builtin_interfaces/Time` or `builtin_interfaces/Duration` (ROS 2) or `time` or
 * `duration` (ROS 1). Both encodings decode to this shape. ROS 1 times keep their ROS 1 ranges:
 * `sec` of a ROS 1 time is unsigned, and `nanosec` of a ROS 1 duration may be negative.
 */
export interface RosTime {
  sec: number;
  nanosec: number;
}

/**
 * Turns serialized messages into plain JavaScript objects with the field names of their
 * definition. In decoded values:
 * - times and durations are `RosTime` objects (`{ sec, nanosec }`);
 * - int64 and uint64 values are `bigint`;
 * - arrays of numeric types are typed arrays (`Uint8Array`, `Float64Array`, `BigInt64Array`, …),
 *   and arrays of `bool`, `string` and complex types are plain arrays;
 * - constants are left out, and ROS 1 messages keep ROS 1 fields such as `header.seq`.
 *
 * NOTE: typed arrays can be views of the payload's buffer rather than copies, so they change if
 * the caller overwrites that buffer. Copy them (`.slice()`) before reusing the buffer.
 */
export interface MessageDecoder {
  /** Decodes one message. Throws DecodeError when its channel or its payload cannot be decoded. */
  decode(message: RawMessage): unknown;
  /**
   * Returns the payload decoder of a channel, building it on first use. Later calls with the same
   * channel id reuse it, so definitions added to the registry afterwards do not change it.
   * Throws DecodeError at once for an unsupported encoding or a type without a definition.
   */
  readerFor(channel: RecordingChannel): (data: Uint8Array) => unknown;
}

export interface MessageDecoderOptions {
  /**
   * ROS 2 definitions for CDR channels that embed no usable definition. Default: a new
   * `DefinitionRegistry` for Humble.
   */
  definitions?: DefinitionRegistry;
  /**
   * ROS 1 definitions for `ros1` channels that embed no definition. Default: a new
   * `DefinitionRegistry` with distro `ros1`, created on first use.
   */
  ros1Definitions?: DefinitionRegistry;
}

/** Message encodings that fieldloop decodes. */
export const SUPPORTED_MESSAGE_ENCODINGS: readonly string[] = ['cdr', 'ros1'];

type PayloadDecoder = (data: Uint8Array, logTime: bigint | null) => unknown;

/**
 * The decoder of one channel, or the setup error that is rethrown for every message of a channel
 * that cannot be decoded.
 */
type ChannelEntry =
  | { channel: RecordingChannel; decode: PayloadDecoder }
  | { channel: RecordingChannel; error: DecodeError };

/** Creates a decoder for CDR (ROS 2) and ROS 1 payloads. */
export function createMessageDecoder(options: MessageDecoderOptions = {}): MessageDecoder {
  const ros2Definitions = options.definitions ?? new DefinitionRegistry();
  if (ros2Definitions.dialect !== 'ros2') {
    throw new TypeError(
      `The definitions option needs a ROS 2 registry, but its distro is "${ros2Definitions.distro}"; ` +
        'pass a ROS 1 registry as ros1Definitions.',
    );
  }
  let ros1Definitions = options.ros1Definitions ?? null;
  if (ros1Definitions !== null && ros1Definitions.dialect !== 'ros1') {
    throw new TypeError(
      `The ros1Definitions option needs a registry with distro "ros1", but its distro is "${ros1Definitions.distro}".`,
    );
  }
  const registryFor = (dialect: MsgDialect): DefinitionRegistry => {
    if (dialect === 'ros2') return ros2Definitions;
    ros1Definitions ??= new DefinitionRegistry({ distro: 'ros1' });
    return ros1Definitions;
  };

  const entries = new Map<number, ChannelEntry>();
  const entryFor = (channel: RecordingChannel): ChannelEntry => {
    const cached = entries.get(channel.id);
    if (cached !== undefined && sameChannel(cached.channel, channel)) return cached;
    let entry: ChannelEntry;
    try {
      entry = { channel, decode: buildPayloadDecoder(channel, registryFor) };
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      entry = { channel, error };
    }
    entries.set(channel.id, entry);
    return entry;
  };

  return {
    decode(message: RawMessage): unknown {
      const entry = entryFor(message.channel);
      if ('error' in entry) throw entry.error;
      return entry.decode(message.data, message.logTime);
    },
    readerFor(channel: RecordingChannel): (data: Uint8Array) => unknown {
      const entry = entryFor(channel);
      if ('error' in entry) throw entry.error;
      const decode = entry.decode;
      return (data) => decode(data, null);
    },
  };
}

/** True when two channels with the same id describe the same stream, so a cached decoder fits both. */
function sameChannel(a: RecordingChannel, b: RecordingChannel): boolean {
  if (a === b) return true;
  return (
    a.topic === b.topic &&
    a.type === b.type &&
    a.encoding === b.encoding &&
    a.definition?.encoding === b.definition?.encoding &&
    a.definition?.text === b.definition?.text
  );
}

function buildPayloadDecoder(
  channel: RecordingChannel,
  registryFor: (dialect: MsgDialect) => DefinitionRegistry,
): PayloadDecoder {
  let dialect: MsgDialect;
  if (channel.encoding === 'cdr') {
    dialect = 'ros2';
  } else if (channel.encoding === 'ros1') {
    dialect = 'ros1';
  } else {
    throw unsupportedEncodingError(channel);
  }

  const definitions = definitionsFor(channel, dialect, registryFor(dialect));
  let read: PayloadReader;
  try {
    read = dialect === 'ros2' ? createCdrPayloadReader(definitions) : createRos1PayloadReader(definitions);
  } catch (error) {
    throw new DecodeError(
      channel,
      `Failed to build a ${channel.encoding} reader for topic ${channel.topic} (type ${channel.type}): ` +
        `${errorText(error)}. Check the message definition of ${channel.type}.`,
      { cause: error },
    );
  }

  return (data, logTime) => {
    let result;
    try {
      result = read(data);
    } catch (error) {
      throw malformedPayloadError(channel, logTime, `${errorText(error)}`, error);
    }
    if (result.byteLength > data.byteLength) {
      throw malformedPayloadError(
        channel,
        logTime,
        `the payload is truncated: it has ${data.byteLength} bytes, but its definition needs at least ${result.byteLength}`,
      );
    }
    return result.value;
  };
}

/**
 * Picks the definitions for a channel, root first: the embedded definition when fieldloop can
 * parse it, with any type it lacks taken from the registry, or else the registry's.
 */
function definitionsFor(
  channel: RecordingChannel,
  dialect: MsgDialect,
  registry: DefinitionRegistry,
): MessageDefinition[] {
  const rootType = normalizeTypeName(channel.type);
  const embedded = channel.definition;
  const parsableEncoding = dialect === 'ros2' ? 'ros2msg' : 'ros1msg';

  const local = new Map<string, MessageDefinition>();
  // Blank text is an empty message type, but some writers also store it when they lack the
  // definition, so a registry definition of the type takes precedence over blank text.
  const isBlank = embedded !== null && embedded.text.trim() === '';
  const useEmbedded =
    embedded !== null &&
    embedded.encoding === parsableEncoding &&
    !(isBlank && registry.has(rootType));
  if (embedded !== null && useEmbedded) {
    let parsed: MessageDefinition[];
    try {
      parsed = parseMsgText(embedded.text, rootType, dialect);
    } catch (error) {
      throw new DecodeError(
        channel,
        `Invalid ${embedded.encoding} definition embedded for topic ${channel.topic} (type ${channel.type}): ` +
          `${errorText(error)}. The recording may be damaged.`,
        { cause: error },
      );
    }
    for (const definition of parsed) local.set(definition.name ?? rootType, definition);
  }
  // NOTE: no ros2idl parser is installed (@foxglove/ros2idl-parser is not a dependency), so a
  // ros2idl definition is ignored and the registry's definition of the type is used instead.

  const closure = collectDefinitions(rootType, (type) => local.get(type) ?? registry.get(type));
  if (!closure.ok) throw missingDefinitionError(channel, closure.missing);
  return closure.definitions;
}

function unsupportedEncodingError(channel: RecordingChannel): DecodeError {
  return new DecodeError(
    channel,
    `Unsupported message encoding "${channel.encoding}" on topic ${channel.topic} (type ${channel.type}). ` +
      'fieldloop decodes only CDR (ROS 2, encoding "cdr") and ROS 1 serialization (encoding "ros1"). ' +
      'Re-record the bag, or convert it, with the CDR serializer. If the payloads are CDR and only ' +
      "the bag's metadata.yaml is wrong, set serialization_format to cdr in metadata.yaml.",
  );
}

function missingDefinitionError(channel: RecordingChannel, missing: MissingDefinition): DecodeError {
  const embedded = channel.definition;
  let origin: string;
  if (embedded === null) {
    origin = 'the recording embeds no definition for this topic';
  } else if (embedded.encoding === 'ros2idl') {
    origin = 'the recording embeds only a ros2idl definition, which fieldloop cannot parse';
  } else {
    origin = `the recording's ${embedded.encoding || 'empty'} definition does not include it`;
  }
  const subject =
    missing.neededBy === null
      ? `No message definition found for type ${channel.type} on topic ${channel.topic}`
      : `No message definition found for type ${missing.type}, which field ${missing.field ?? '?'} of ` +
        `${missing.neededBy} uses (topic ${channel.topic}, type ${channel.type})`;
  const slash = missing.type.indexOf('/');
  const packageName = slash > 0 ? missing.type.slice(0, slash) : '<package>';
  const typeName = missing.type.slice(slash + 1);
  return new DecodeError(
    channel,
    `${subject}: ${origin}, and fieldloop bundles none for ${missing.type}. ` +
      `Pass --msg-path DIR, where DIR contains the package's .msg files as ` +
      `${packageName}/msg/${typeName}.msg.`,
  );
}

function malformedPayloadError(
  channel: RecordingChannel,
  logTime: bigint | null,
  reason: string,
  cause?: unknown,
): DecodeError {
  const at = logTime === null ? '' : ` at log time ${logTime} ns`;
  return new DecodeError(
    channel,
    `Failed to decode the ${channel.encoding} message on topic ${channel.topic} (type ${channel.type})${at}: ` +
      `${reason}. The file may be damaged, or the definition may not match the data.`,
    { logTime, cause },
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
