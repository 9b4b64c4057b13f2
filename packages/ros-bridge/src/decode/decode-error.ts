import type { RecordingChannel } from '../recording/recording-reader.ts';

/**
 * Thrown when a channel or one of its messages cannot be decoded. The message names the topic,
 * the type and what to do next.
 */
export class DecodeError extends Error {
  readonly topic: string;
  /** Type name as the recording stores it. */
  readonly type: string;
  /** Message encoding of the channel, for example `cdr`. */
  readonly encoding: string;
  /** Log time in nanoseconds of the message that failed, or null for an error about the whole channel. */
  readonly logTime: bigint | null;

  constructor(
    channel: Pick<RecordingChannel, 'topic' | 'type' | 'encoding'>,
    message: string,
    options: { logTime?: bigint | null; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DecodeError';
    this.topic = channel.topic;
    this.type = channel.type;
    this.encoding = channel.encoding;
    this.logTime = options.logTime ?? null;
  }
}
