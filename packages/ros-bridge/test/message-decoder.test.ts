import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

import { findSharedData } from '@fieldloop/contracts';
import { parse } from '@foxglove/rosmsg';
import { MessageWriter as Ros1MessageWriter } from '@foxglove/rosmsg-serialization';
import { MessageWriter as CdrMessageWriter } from '@foxglove/rosmsg2-serialization';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  createMessageDecoder,
  DecodeError,
  DefinitionRegistry,
  type MessageDecoder,
} from '../src/decode/index.ts';
import type { EmbeddedDefinition, RawMessage, RecordingChannel } from '../src/recording/recording-reader.ts';
import { readMcapInput, readRos1BagInput, readSqliteInput, type DecodeInput } from './decode-inputs.ts';

const SEPARATOR = '='.repeat(80);

/** A ROS 2 definition with every kind of field: nested, arrays of each kind, times, 64-bit integers. */
const SENSOR_ROS2_TEXT = [
  'std_msgs/Header header',
  'builtin_interfaces/Duration timeout',
  'int64 big',
  'uint64 ubig',
  'bool flag',
  'bool[] flags',
  'string name',
  'string[] tags',
  'float64[4] fixed',
  'float32[] samples',
  'uint8[] data',
  'int16[<=4] bounded',
  'Reading[] readings',
  'builtin_interfaces/Time[] marks',
  'int32 MODE_A=1',
  SEPARATOR,
  'MSG: std_msgs/Header',
  'builtin_interfaces/Time stamp',
  'string frame_id',
  SEPARATOR,
  'MSG: builtin_interfaces/Time',
  'int32 sec',
  'uint32 nanosec',
  SEPARATOR,
  'MSG: builtin_interfaces/Duration',
  'int32 sec',
  'uint32 nanosec',
  SEPARATOR,
  'MSG: fieldloop_test_msgs/Reading',
  'string label',
  'builtin_interfaces/Time stamp',
  'float64 value',
].join('\n');

const SENSOR_MESSAGE = {
  header: { stamp: { sec: 1_700_000_000, nanosec: 123_456_789 }, frame_id: 'base_link' },
  timeout: { sec: 5, nanosec: 250_000_000 },
  big: -9_007_199_254_740_993n,
  ubig: 18_446_744_073_709_551_615n,
  flag: true,
  flags: [true, false, true],
  name: 'sensor-1',
  tags: ['a', 'bc', ''],
  fixed: new Float64Array([1.5, -2.25, 0, 1e300]),
  samples: new Float32Array([0.5, -1.5]),
  data: new Uint8Array([0, 1, 254, 255]),
  bounded: new Int16Array([-3, 7]),
  readings: [
    { label: 'r0', stamp: { sec: 1, nanosec: 2 }, value: Math.PI },
    { label: '', stamp: { sec: 3, nanosec: 999_999_999 }, value: -0.25 },
  ],
  marks: [
    { sec: 10, nanosec: 20 },
    { sec: 30, nanosec: 40 },
  ],
};

/** A ROS 1 definition as a bag's connection header stores it. */
const TRACK_ROS1_TEXT = [
  'Header header',
  'time[] marks',
  'duration wait',
  'int8 level',
  'byte raw',
  'char letter',
  'uint8[] data',
  'geometry_msgs/Point[] points',
  SEPARATOR,
  'MSG: std_msgs/Header',
  'uint32 seq',
  'time stamp',
  'string frame_id',
  SEPARATOR,
  'MSG: geometry_msgs/Point',
  'float64 x',
  'float64 y',
  'float64 z',
].join('\n');

const STRING_ROS2_TEXT = 'string data';

const tempDirs: string[] = [];

afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

let nextChannelId = 1;

function makeChannel(
  type: string,
  encoding: string,
  definition: EmbeddedDefinition | null,
  topic = '/test',
): RecordingChannel {
  return { id: nextChannelId++, topic, type, encoding, definition, declaredCount: null };
}

function makeMessage(channel: RecordingChannel, data: Uint8Array, logTime = 1_000n): RawMessage {
  return { channel, logTime, publishTime: logTime, data, file: 'test.mcap' };
}

function writeCdr(text: string, message: unknown): Uint8Array {
  return new CdrMessageWriter(parse(text, { ros2: true })).writeMessage(message);
}

function writeRos1(text: string, message: unknown): Uint8Array {
  return new Ros1MessageWriter(parse(text)).writeMessage(message);
}

/** Calls `action` and returns the DecodeError it throws; fails the test when it throws nothing else. */
function catchDecodeError(action: () => unknown): DecodeError {
  try {
    action();
  } catch (error) {
    if (error instanceof DecodeError) return error;
    throw error;
  }
  throw new Error('expected a DecodeError, but nothing was thrown');
}

describe('createMessageDecoder with CDR', () => {
  it('round-trips an embedded definition', () => {
    const channel = makeChannel('fieldloop_test_msgs/msg/Sensor', 'cdr', {
      encoding: 'ros2msg',
      text: SENSOR_ROS2_TEXT,
    });
    const decoded = createMessageDecoder().decode(makeMessage(channel, writeCdr(SENSOR_ROS2_TEXT, SENSOR_MESSAGE)));

    expect(decoded).toEqual(SENSOR_MESSAGE);
  });

  it('leaves constants out', () => {
    const channel = makeChannel('fieldloop_test_msgs/msg/Sensor', 'cdr', {
      encoding: 'ros2msg',
      text: SENSOR_ROS2_TEXT,
    });
    const decoded = createMessageDecoder().decode(makeMessage(channel, writeCdr(SENSOR_ROS2_TEXT, SENSOR_MESSAGE)));

    expect(decoded).not.toHaveProperty('MODE_A');
  });

  it('decodes times as sec and nanosec', () => {
    const channel = makeChannel('std_msgs/msg/Header', 'cdr', null);
    const payload = writeCdr('builtin_interfaces/Time stamp\nstring frame_id', {
      stamp: { sec: 42, nanosec: 7 },
      frame_id: 'map',
    });

    expect(createMessageDecoder().decode(makeMessage(channel, payload))).toEqual({
      stamp: { sec: 42, nanosec: 7 },
      frame_id: 'map',
    });
  });

  it('uses the registry without an embedded definition', () => {
    const text = [
      'std_msgs/Header header',
      'geometry_msgs/Vector3 vector',
      SEPARATOR,
      'MSG: std_msgs/Header',
      'builtin_interfaces/Time stamp',
      'string frame_id',
      SEPARATOR,
      'MSG: geometry_msgs/Vector3',
      'float64 x',
      'float64 y',
      'float64 z',
    ].join('\n');
    const message = {
      header: { stamp: { sec: 1, nanosec: 2 }, frame_id: 'imu_link' },
      vector: { x: 0.5, y: -1, z: 9.81 },
    };
    const payload = writeCdr(text, message);
    const decoder = createMessageDecoder();

    for (const type of ['geometry_msgs/msg/Vector3Stamped', 'geometry_msgs/Vector3Stamped']) {
      const channel = makeChannel(type, 'cdr', null);
      expect(decoder.decode(makeMessage(channel, payload))).toEqual(message);
    }
  });

  it('uses bundled test_msgs definitions', () => {
    const text = [
      'bool bool_value',
      'byte byte_value',
      'char char_value',
      'float32 float32_value',
      'float64 float64_value',
      'int8 int8_value',
      'uint8 uint8_value',
      'int16 int16_value',
      'uint16 uint16_value',
      'int32 int32_value',
      'uint32 uint32_value',
      'int64 int64_value',
      'uint64 uint64_value',
    ].join('\n');
    const message = {
      bool_value: true,
      byte_value: 255,
      char_value: 65,
      float32_value: 1.125,
      float64_value: -3.1415,
      int8_value: -128,
      uint8_value: 200,
      int16_value: -32768,
      uint16_value: 65535,
      int32_value: 123,
      uint32_value: 4_294_967_295,
      int64_value: -9_223_372_036_854_775_808n,
      uint64_value: 18_446_744_073_709_551_615n,
    };
    const channel = makeChannel('test_msgs/msg/BasicTypes', 'cdr', null);

    expect(createMessageDecoder().decode(makeMessage(channel, writeCdr(text, message)))).toEqual(message);
  });

  it('fills missing embedded dependencies from the registry', () => {
    const text = 'std_msgs/Header header\nstring note';
    const message = { header: { stamp: { sec: 9, nanosec: 8 }, frame_id: 'odom' }, note: 'partial' };
    const payloadText = [text, SEPARATOR, 'MSG: std_msgs/Header', 'builtin_interfaces/Time stamp', 'string frame_id'].join('\n');
    const channel = makeChannel('fieldloop_test_msgs/msg/Note', 'cdr', { encoding: 'ros2msg', text });

    expect(createMessageDecoder().decode(makeMessage(channel, writeCdr(payloadText, message)))).toEqual(message);
  });

  it('falls back from ros2idl to the registry', () => {
    const channel = makeChannel('std_msgs/msg/String', 'cdr', {
      encoding: 'ros2idl',
      text: 'module std_msgs { module msg { struct String { string data; }; }; };',
    });
    const payload = writeCdr(STRING_ROS2_TEXT, { data: 'from idl' });

    expect(createMessageDecoder().decode(makeMessage(channel, payload))).toEqual({ data: 'from idl' });
  });

  it('decodes an empty message', () => {
    const channel = makeChannel('std_msgs/msg/Empty', 'cdr', { encoding: 'ros2msg', text: '' });
    const payload = writeCdr('', {});

    expect(createMessageDecoder().decode(makeMessage(channel, payload))).toEqual({});
  });

  it('decodes an unknown type with blank text as empty', () => {
    const channel = makeChannel('acme_msgs/msg/Ping', 'cdr', { encoding: 'ros2msg', text: '\n' });
    const payload = writeCdr('', {});

    expect(createMessageDecoder().decode(makeMessage(channel, payload))).toEqual({});
  });

  it('prefers the registry over blank text', () => {
    const channel = makeChannel('std_msgs/msg/String', 'cdr', { encoding: 'ros2msg', text: '' });
    const payload = writeCdr(STRING_ROS2_TEXT, { data: 'not empty' });

    expect(createMessageDecoder().decode(makeMessage(channel, payload))).toEqual({ data: 'not empty' });
  });

  it('decodes a root type with only constants', () => {
    const channel = makeChannel('test_msgs/msg/Constants', 'cdr', null);
    // CDR writes an empty struct as one placeholder byte.
    const payload = new Uint8Array([0, 1, 0, 0, 0]);

    expect(createMessageDecoder().decode(makeMessage(channel, payload))).toEqual({});
  });

  it('decodes UTF-8 strings', () => {
    // Built by hand because CdrWriter of @foxglove/cdr 3.5 writes the UTF-16 length of a string
    // as its byte length, which truncates non-ASCII text.
    const text = new TextEncoder().encode('Grüße, 世界');
    const payload = new Uint8Array(8 + text.byteLength + 1);
    const view = new DataView(payload.buffer);
    view.setUint8(1, 1);
    view.setUint32(4, text.byteLength + 1, true);
    payload.set(text, 8);
    const channel = makeChannel('std_msgs/msg/String', 'cdr', null);

    expect(createMessageDecoder().decode(makeMessage(channel, payload))).toEqual({ data: 'Grüße, 世界' });
  });

  it('decodes big-endian CDR', () => {
    const channel = makeChannel('std_msgs/msg/UInt32', 'cdr', null);
    const payload = new Uint8Array([0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04]);

    expect(createMessageDecoder().decode(makeMessage(channel, payload))).toEqual({ data: 0x01020304 });
  });
});

describe('createMessageDecoder with ROS 1', () => {
  const message = {
    header: { seq: 7, stamp: { sec: 1_432_235_497, nsec: 988_949_113 }, frame_id: 'imu_link' },
    marks: [
      { sec: 1, nsec: 2 },
      { sec: 3, nsec: 4 },
    ],
    wait: { sec: -1, nsec: 500 },
    level: -5,
    raw: -1,
    letter: 200,
    data: new Uint8Array([9, 8, 7]),
    points: [{ x: 1, y: 2, z: 3 }],
  };

  it('round-trips an embedded definition', () => {
    const channel = makeChannel('fieldloop_test_msgs/Track', 'ros1', { encoding: 'ros1msg', text: TRACK_ROS1_TEXT });
    const decoded = createMessageDecoder().decode(makeMessage(channel, writeRos1(TRACK_ROS1_TEXT, message)));

    expect(decoded).toEqual({
      header: { seq: 7, stamp: { sec: 1_432_235_497, nanosec: 988_949_113 }, frame_id: 'imu_link' },
      marks: [
        { sec: 1, nanosec: 2 },
        { sec: 3, nanosec: 4 },
      ],
      wait: { sec: -1, nanosec: 500 },
      level: -5,
      raw: -1,
      letter: 200,
      data: new Uint8Array([9, 8, 7]),
      points: [{ x: 1, y: 2, z: 3 }],
    });
  });

  it('returns plain objects', () => {
    const channel = makeChannel('fieldloop_test_msgs/Track', 'ros1', { encoding: 'ros1msg', text: TRACK_ROS1_TEXT });
    const decoded = createMessageDecoder().decode(makeMessage(channel, writeRos1(TRACK_ROS1_TEXT, message))) as {
      header: object;
      points: object[];
    };

    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(decoded.header)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(decoded.points[0])).toBe(Object.prototype);
  });

  it('uses ROS 1 common definitions without an embedded one', () => {
    const text = ['Header header', 'string data_text', SEPARATOR, 'MSG: std_msgs/Header', 'uint32 seq', 'time stamp', 'string frame_id'].join('\n');
    const payload = writeRos1(text, {
      header: { seq: 1, stamp: { sec: 2, nsec: 3 }, frame_id: '/gps' },
      data_text: 'ignored',
    });
    const channel = makeChannel('std_msgs/Header', 'ros1', null);

    expect(createMessageDecoder().decode(makeMessage(channel, payload))).toEqual({
      seq: 1,
      stamp: { sec: 2, nanosec: 3 },
      frame_id: '/gps',
    });
  });

  it('rejects a truncated payload', () => {
    const channel = makeChannel('fieldloop_test_msgs/Track', 'ros1', { encoding: 'ros1msg', text: TRACK_ROS1_TEXT }, '/track');
    const payload = writeRos1(TRACK_ROS1_TEXT, message);
    const error = catchDecodeError(() =>
      createMessageDecoder().decode(makeMessage(channel, payload.subarray(0, payload.byteLength - 10), 55n)),
    );

    expect(error.message).toContain('topic /track');
    expect(error.message).toContain('log time 55 ns');
    expect(error.logTime).toBe(55n);
  });
});

describe('createMessageDecoder errors', () => {
  it('rejects an unsupported encoding', () => {
    const channel = makeChannel('test_msgs/msg/BasicTypes', 'wrong_format', null, '/test_topic');
    const error = catchDecodeError(() => createMessageDecoder().decode(makeMessage(channel, new Uint8Array(8))));

    expect(error.topic).toBe('/test_topic');
    expect(error.type).toBe('test_msgs/msg/BasicTypes');
    expect(error.encoding).toBe('wrong_format');
    expect(error.logTime).toBeNull();
    expect(error.message).toContain('"wrong_format"');
    expect(error.message).toContain('topic /test_topic');
    expect(error.message).toContain('type test_msgs/msg/BasicTypes');
    expect(error.message).toContain('decodes only CDR (ROS 2');
    expect(error.message).toContain('ROS 1 serialization');
    expect(error.message).toContain('CDR serializer');
    expect(error.message).toContain('serialization_format');
  });

  it('rejects an unsupported encoding in readerFor', () => {
    const channel = makeChannel('std_msgs/msg/String', 'json', null);

    expect(() => createMessageDecoder().readerFor(channel)).toThrow(DecodeError);
  });

  it('rejects an unknown type', () => {
    const channel = makeChannel('acme_msgs/msg/Gripper', 'cdr', null, '/gripper');
    const error = catchDecodeError(() => createMessageDecoder().readerFor(channel));

    expect(error.message).toContain('No message definition found for type acme_msgs/msg/Gripper');
    expect(error.message).toContain('topic /gripper');
    expect(error.message).toContain('--msg-path DIR');
    expect(error.message).toContain('acme_msgs/msg/Gripper.msg');
  });

  it('rejects a missing dependency', () => {
    const channel = makeChannel('acme_msgs/msg/Hand', 'cdr', { encoding: 'ros2msg', text: 'Finger[] fingers' }, '/hand');
    const error = catchDecodeError(() => createMessageDecoder().readerFor(channel));

    expect(error.message).toContain('type acme_msgs/Finger, which field fingers of acme_msgs/Hand uses');
    expect(error.message).toContain('acme_msgs/msg/Finger.msg');
  });

  it('names ros2idl for an unknown type', () => {
    const channel = makeChannel('acme_msgs/msg/Gripper', 'cdr', { encoding: 'ros2idl', text: 'module acme_msgs {};' });
    const error = catchDecodeError(() => createMessageDecoder().readerFor(channel));

    expect(error.message).toContain('embeds only a ros2idl definition');
  });

  it('rejects an invalid embedded definition', () => {
    const channel = makeChannel('acme_msgs/msg/Bad', 'cdr', { encoding: 'ros2msg', text: 'float64 x y z' });
    const error = catchDecodeError(() => createMessageDecoder().readerFor(channel));

    expect(error.message).toContain('Invalid ros2msg definition embedded for topic /test (type acme_msgs/msg/Bad)');
  });

  it('rejects a truncated payload', () => {
    const channel = makeChannel('std_msgs/msg/String', 'cdr', { encoding: 'ros2msg', text: STRING_ROS2_TEXT }, '/chatter');
    const payload = writeCdr(STRING_ROS2_TEXT, { data: 'Hello, world!' });
    const error = catchDecodeError(() =>
      createMessageDecoder().decode(makeMessage(channel, payload.subarray(0, 10), 1_586_866_235_112_130_688n)),
    );

    expect(error.topic).toBe('/chatter');
    expect(error.logTime).toBe(1_586_866_235_112_130_688n);
    expect(error.message).toContain('topic /chatter (type std_msgs/msg/String)');
    expect(error.message).toContain('at log time 1586866235112130688 ns');
    expect(error.message).toContain('truncated');
  });

  it('rejects a truncated array inside a larger buffer', () => {
    // The payload is a view into a larger buffer, as a chunk reader returns it. The byte array's
    // length prefix points past the payload's end into bytes of the next record.
    const text = 'uint8[] data';
    const payload = writeCdr(text, { data: new Uint8Array(64).fill(7) });
    const chunk = new Uint8Array(payload.byteLength + 128);
    chunk.set(payload, 0);
    const channel = makeChannel('fieldloop_test_msgs/msg/Blob', 'cdr', { encoding: 'ros2msg', text }, '/blob');
    const error = catchDecodeError(() =>
      createMessageDecoder().decode(makeMessage(channel, chunk.subarray(0, 20), 77n)),
    );

    expect(error.message).toContain('it has 20 bytes, but its definition needs at least 72');
  });

  it('rejects a payload shorter than the CDR header', () => {
    const channel = makeChannel('std_msgs/msg/String', 'cdr', null, '/chatter');
    const error = catchDecodeError(() => createMessageDecoder().decode(makeMessage(channel, new Uint8Array(2), 5n)));

    expect(error.message).toContain('topic /chatter');
    expect(error.message).toContain('log time 5 ns');
  });

  it('omits the log time in readerFor', () => {
    const channel = makeChannel('std_msgs/msg/String', 'cdr', null, '/chatter');
    const read = createMessageDecoder().readerFor(channel);
    const error = catchDecodeError(() => read(new Uint8Array([0, 1, 0, 0, 200, 0, 0, 0])));

    expect(error.logTime).toBeNull();
    expect(error.message).not.toContain('log time');
  });

  it('rejects a ROS 1 registry as ROS 2 definitions', () => {
    expect(() => createMessageDecoder({ definitions: new DefinitionRegistry({ distro: 'ros1' }) })).toThrow(TypeError);
  });

  it('rejects a ROS 2 registry as ROS 1 definitions', () => {
    expect(() => createMessageDecoder({ ros1Definitions: new DefinitionRegistry() })).toThrow(TypeError);
  });
});

describe('createMessageDecoder caching', () => {
  it('reuses the reader of a channel', () => {
    const decoder = createMessageDecoder();
    const channel = makeChannel('std_msgs/msg/String', 'cdr', { encoding: 'ros2msg', text: STRING_ROS2_TEXT });
    const first = decoder.readerFor(channel);
    const second = decoder.readerFor(channel);
    const payload = writeCdr(STRING_ROS2_TEXT, { data: 'again' });

    expect(first(payload)).toEqual({ data: 'again' });
    expect(second(payload)).toEqual({ data: 'again' });
  });

  it('rebuilds for a different channel with the same id', () => {
    const decoder = createMessageDecoder();
    const text = makeChannel('std_msgs/msg/String', 'cdr', null);
    const number: RecordingChannel = { ...text, type: 'std_msgs/msg/UInt32' };
    const payload = new Uint8Array([0, 1, 0, 0, 3, 0, 0, 0, 0x61, 0x62, 0, 0]);

    expect(decoder.decode(makeMessage(text, payload))).toEqual({ data: 'ab' });
    expect(decoder.decode(makeMessage(number, payload))).toEqual({ data: 3 });
  });

  it('rethrows the setup error for each message', () => {
    const decoder: MessageDecoder = createMessageDecoder();
    const channel = makeChannel('acme_msgs/msg/Gripper', 'cdr', null);
    const first = catchDecodeError(() => decoder.decode(makeMessage(channel, new Uint8Array(8))));
    const second = catchDecodeError(() => decoder.decode(makeMessage(channel, new Uint8Array(8))));

    expect(second).toBe(first);
  });
});

describe('createMessageDecoder with a msg directory', () => {
  it('decodes a type loaded from .msg files', () => {
    const root = mkdtempSync(join(tmpdir(), 'fieldloop-decoder-'));
    tempDirs.push(root);
    mkdirSync(join(root, 'acme_msgs', 'msg'), { recursive: true });
    writeFileSync(join(root, 'acme_msgs', 'msg', 'Hand.msg'), 'Header header\nFinger[] fingers\n');
    writeFileSync(join(root, 'acme_msgs', 'msg', 'Finger.msg'), 'string name\nfloat64 angle\n');
    const definitions = new DefinitionRegistry();
    definitions.addMsgDirectory(root);

    const writerText = [
      'std_msgs/Header header',
      'acme_msgs/Finger[] fingers',
      SEPARATOR,
      'MSG: std_msgs/Header',
      'builtin_interfaces/Time stamp',
      'string frame_id',
      SEPARATOR,
      'MSG: acme_msgs/Finger',
      'string name',
      'float64 angle',
    ].join('\n');
    const message = {
      header: { stamp: { sec: 4, nanosec: 5 }, frame_id: 'palm' },
      fingers: [
        { name: 'thumb', angle: 0.5 },
        { name: 'index', angle: 1.25 },
      ],
    };
    const channel = makeChannel('acme_msgs/msg/Hand', 'cdr', null);
    const decoder = createMessageDecoder({ definitions });

    expect(decoder.decode(makeMessage(channel, writeCdr(writerText, message)))).toEqual(message);
  });
});

interface Vector {
  x: number;
  y: number;
  z: number;
}

interface HeaderValue {
  stamp: { sec: number; nanosec: number };
  frame_id: string;
}

/** Calls `visit` for every value in a decoded message, with its path. */
function walk(value: unknown, path: string, visit: (value: unknown, path: string) => void): void {
  visit(value, path);
  if (ArrayBuffer.isView(value)) {
    const elements = value as unknown as ArrayLike<number | bigint>;
    for (let index = 0; index < elements.length; index++) visit(elements[index], `${path}[${index}]`);
  } else if (Array.isArray(value)) {
    value.forEach((element, index) => walk(element, `${path}[${index}]`, visit));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, element] of Object.entries(value)) walk(element, `${path}.${key}`, visit);
  }
}

function decodeTopic(input: DecodeInput, topic: string, decoder = createMessageDecoder()): unknown[] {
  return input.messages.filter((message) => message.channel.topic === topic).map((message) => decoder.decode(message));
}

const data = findSharedData();
const bags = join(data ?? '', 'bags');

describe.skipIf(!data)('on shared/data (skipped: shared/data not found beside the repository)', () => {
  describe('typecoverage MCAP', () => {
    let input: DecodeInput;
    const decoded = new Map<string, unknown[]>();
    const failures: string[] = [];

    beforeAll(async () => {
      input = await readMcapInput(join(bags, 'typecoverage/test_bag_mcap/test_bag_mcap.mcap'));
      const decoder = createMessageDecoder();
      for (const message of input.messages) {
        try {
          const value = decoder.decode(message);
          decoded.set(message.channel.topic, [...(decoded.get(message.channel.topic) ?? []), value]);
        } catch (error) {
          failures.push(`${message.channel.topic}: ${String(error)}`);
        }
      }
    });

    it('decodes all 188 messages on 94 topics', () => {
      expect(failures).toEqual([]);
      expect(input.messages).toHaveLength(188);
      expect(decoded.size).toBe(94);
    });

    it('decodes alike with registry definitions', () => {
      const embedded = createMessageDecoder();
      const registry = createMessageDecoder();
      const mismatches: string[] = [];
      for (const message of input.messages) {
        const withoutDefinition = { ...message, channel: { ...message.channel, definition: null } };
        const expected = embedded.decode(message);
        const actual = registry.decode(withoutDefinition);
        if (!isDeepStrictEqual(actual, expected)) mismatches.push(message.channel.topic);
      }

      expect(mismatches).toEqual([]);
    });

    it('matches the values the bag was written with', () => {
      // Values that the rosbags-rs integration tests expect for this bag.
      for (const value of decoded.get('/test/std_msgs/string') ?? []) expect(value).toEqual({ data: 'Hello, ROS2!' });
      for (const value of decoded.get('/test/std_msgs/int32') ?? []) expect(value).toEqual({ data: -100000 });
      for (const value of decoded.get('/test/std_msgs/float64') ?? []) expect(value).toEqual({ data: 2.71828 });
      for (const value of decoded.get('/test/geometry_msgs/point') ?? []) expect(value).toEqual({ x: 1, y: 2, z: 3 });
      for (const value of decoded.get('/test/geometry_msgs/vector3') ?? []) expect(value).toEqual({ x: 0.1, y: 0.2, z: 0.3 });
      for (const value of decoded.get('/test/sensor_msgs/imu') ?? []) {
        const imu = value as { header: HeaderValue; orientation: Vector & { w: number } };
        const { x, y, z, w } = imu.orientation;
        expect(imu.header.frame_id).toBe('test_frame');
        expect(Math.hypot(x, y, z, w)).toBeCloseTo(1, 6);
      }
      for (const value of decoded.get('/test/sensor_msgs/image') ?? []) {
        const image = value as { encoding: string; width: number; height: number };
        expect(['rgb8', 'bgr8', 'mono8', 'mono16', 'rgba8', 'bgra8']).toContain(image.encoding);
        expect(image.width).toBeGreaterThan(0);
        expect(image.height).toBeGreaterThan(0);
      }
      expect(decoded.get('/test/std_msgs/string')).toHaveLength(2);
    });

    it('decodes consistent arrays', () => {
      for (const value of decoded.get('/test/sensor_msgs/joint_state') ?? []) {
        const state = value as { name: string[]; position: Float64Array; velocity: Float64Array; effort: Float64Array };
        expect(state.position).toHaveLength(state.name.length);
        expect(state.velocity).toHaveLength(state.name.length);
        expect(state.effort).toHaveLength(state.name.length);
      }
      for (const value of decoded.get('/test/sensor_msgs/point_cloud2') ?? []) {
        const cloud = value as { height: number; row_step: number; width: number; point_step: number; data: Uint8Array };
        expect(cloud.data).toHaveLength(cloud.row_step * cloud.height);
        expect(cloud.row_step).toBe(cloud.point_step * cloud.width);
      }
      for (const value of decoded.get('/test/sensor_msgs/camera_info') ?? []) {
        const info = value as { k: Float64Array; r: Float64Array; p: Float64Array };
        expect(info.k).toHaveLength(9);
        expect(info.r).toHaveLength(9);
        expect(info.p).toHaveLength(12);
      }
      for (const value of decoded.get('/test/nav_msgs/occupancy_grid') ?? []) {
        const grid = value as { info: { width: number; height: number }; data: Int8Array };
        expect(grid.data).toHaveLength(grid.info.width * grid.info.height);
      }
    });

    it('decodes non-empty frame ids, finite numbers and plausible stamps', () => {
      const emptyFrames: string[] = [];
      const nonFinite: string[] = [];
      const farStamps: string[] = [];
      for (const message of input.messages) {
        const logSeconds = Number(message.logTime / 1_000_000_000n);
        walk(createMessageDecoder().decode(message), message.channel.topic, (value, path) => {
          if (path.endsWith('frame_id') && (typeof value !== 'string' || value === '')) emptyFrames.push(path);
          if (typeof value === 'number' && !Number.isFinite(value)) nonFinite.push(path);
          if (path.endsWith('header.stamp')) {
            const stamp = value as { sec: number; nanosec: number };
            if (Math.abs(stamp.sec - logSeconds) > 60 || stamp.nanosec >= 1e9) farStamps.push(path);
          }
        });
      }

      expect(emptyFrames).toEqual([]);
      expect(nonFinite).toEqual([]);
      expect(farStamps).toEqual([]);
    });
  });

  it('decodes the talker strings', async () => {
    const input = await readMcapInput(join(bags, 'rosbag2_fixtures/rosbag2_py/test/resources/mcap/talker/talker.mcap'));
    const strings = decodeTopic(input, '/topic');
    const logs = decodeTopic(input, '/rosout') as Array<{ msg: string }>;

    // rosbag2_py's sequential reader test expects exactly these strings.
    expect(strings).toEqual(Array.from({ length: 10 }, (_, index) => ({ data: `Hello, world! ${index}` })));
    expect(logs.map((log) => log.msg)).toEqual(
      Array.from({ length: 10 }, (_, index) => `Publishing: 'Hello, world! ${index}'`),
    );
  });

  describe('cdr_test', () => {
    const mcapPath = join(bags, 'rosbag2_fixtures/rosbag2_tests/resources/mcap/cdr_test/cdr_test_0.mcap');
    const sqlitePath = join(bags, 'rosbag2_fixtures/rosbag2_tests/resources/sqlite3/cdr_test/cdr_test_0.db3');

    it('decodes the published values', async () => {
      const input = await readMcapInput(mcapPath);
      const basicTypes = decodeTopic(input, '/test_topic') as Array<{ int32_value: number }>;
      const arrays = decodeTopic(input, '/array_topic') as Array<{ bool_values: boolean[]; string_values: string[] }>;

      // rosbag2's play end-to-end test expects these values on both topics.
      expect(basicTypes).toHaveLength(3);
      expect(arrays).toHaveLength(4);
      for (const message of basicTypes) expect(message.int32_value).toBe(123);
      for (const message of arrays) {
        expect(message.bool_values).toEqual([true, false, true]);
        expect(message.string_values).toEqual(['Complex Hello1', 'Complex Hello2', 'Complex Hello3']);
      }
    });

    it('decodes SQLite with bundled definitions alike', async () => {
      const mcap = await readMcapInput(mcapPath);
      const sqlite = readSqliteInput(sqlitePath);
      const fromMcap = mcap.messages.map((message) => [message.channel.topic, message.logTime, createMessageDecoder().decode(message)]);
      const fromSqlite = sqlite.messages.map((message) => [message.channel.topic, message.logTime, createMessageDecoder().decode(message)]);

      expect(sqlite.channels.every((channel) => channel.definition === null)).toBe(true);
      expect(fromSqlite).toHaveLength(7);
      expect(fromSqlite).toEqual(fromMcap);
    });

    it('rejects the wrong_rmw_test encoding', async () => {
      const input = await readMcapInput(
        join(bags, 'rosbag2_fixtures/rosbag2_tests/resources/mcap/wrong_rmw_test/wrong_rmw_test_0.mcap'),
      );
      const decoder = createMessageDecoder();

      expect(input.messages).toHaveLength(7);
      for (const message of input.messages) {
        const error = catchDecodeError(() => decoder.decode(message));
        expect(error.encoding).toBe('wrong_format');
        expect(error.message).toContain(`topic ${message.channel.topic}`);
      }
    });
  });

  describe('husky_test1', () => {
    let input: DecodeInput;

    beforeAll(async () => {
      input = await readMcapInput(join(bags, 'husky_test1/husky_test1.mcap'));
    });

    it('decodes the first GPS fix', () => {
      const [fix] = decodeTopic(input, '/fix') as Array<{ header: HeaderValue; latitude: number; longitude: number }>;

      expect(fix?.header.frame_id).toBe('/gps');
      expect(fix?.latitude).toBeCloseTo(42.3758, 3);
      expect(fix?.longitude).toBeCloseTo(-71.1474, 3);
    });

    it('decodes the ROS 1 original alike', async () => {
      const ros1 = await readRos1BagInput(join(bags, 'husky_test1/ros1/test1.bag'), ['/imu/data']);
      const ros2Messages = input.messages.filter((message) => message.channel.topic === '/imu/data');
      const ros1Decoder = createMessageDecoder();
      const ros2Decoder = createMessageDecoder();

      expect(ros1.messages).toHaveLength(11865);
      expect(ros2Messages).toHaveLength(11865);
      const mismatches: number[] = [];
      ros1.messages.forEach((message, index) => {
        const ros2Message = ros2Messages[index];
        const fromRos1 = ros1Decoder.decode(message) as { header: { seq?: number } };
        // ROS 2 headers have no seq; the ROS 2 form dropped it.
        delete fromRos1.header.seq;
        const fromRos2 = ros2Message === undefined ? undefined : ros2Decoder.decode(ros2Message);
        if (ros2Message?.logTime !== message.logTime || !isDeepStrictEqual(fromRos1, fromRos2)) {
          mismatches.push(index);
        }
      });

      expect(mismatches).toEqual([]);
    });
  });

  describe('rc_night_a', () => {
    let input: DecodeInput;

    beforeAll(async () => {
      input = await readMcapInput(join(bags, 'rc_night_a/rc_night_a.mcap'));
    });

    it('decodes integer servo values', () => {
      const servo = (decodeTopic(input, '/rc/steering_servo') as Array<{ data: number }>).map((message) => message.data);

      expect(servo).toHaveLength(108);
      expect(servo.every((value) => Number.isInteger(value))).toBe(true);
      expect(Math.min(...servo)).toBe(58);
      expect(Math.max(...servo)).toBe(107);
    });

    it('decodes PNG frames', () => {
      const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
      const frames = decodeTopic(input, '/camera/front/image_raw/compressed') as Array<{
        header: HeaderValue;
        format: string;
        data: Uint8Array;
      }>;

      expect(frames).toHaveLength(108);
      for (const frame of frames) {
        expect(frame.format).toBe('png');
        expect(frame.header.frame_id).toBe('camera_front');
        expect([...frame.data.subarray(0, 8)]).toEqual(signature);
      }
    });

    it('decodes the status strings', () => {
      expect(decodeTopic(input, '/rc/status')).toEqual(Array.from({ length: 11 }, () => ({ data: 'run:night-path' })));
    });
  });
});
