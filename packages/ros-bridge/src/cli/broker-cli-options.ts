import type { CliOption } from '@fieldloop/contracts';
import type { BrokerOptions } from '../fleet/broker-options.ts';

/** Options that `fieldloop bridge` and `fieldloop collect` share for reaching the broker. */
export const BROKER_CLI_OPTIONS: CliOption[] = [
  { flags: '--fleet <id>', description: 'fleet id, the second level of the MQTT topics', defaultValue: 'default' },
  { flags: '--username <name>', description: 'MQTT user name' },
  { flags: '--password <text>', description: 'MQTT password; prefer the FIELDLOOP_MQTT_PASSWORD environment variable, which other users cannot see in the process list' },
  { flags: '--ca <file>', description: 'PEM file of the CA that signed the broker certificate, for mqtts:// URLs' },
  { flags: '--cert <file>', description: 'PEM client certificate for brokers that require one' },
  { flags: '--key <file>', description: 'PEM private key of the client certificate' },
  {
    flags: '--mqtt-version <n>',
    description: 'MQTT protocol version: 5, 4 for MQTT 3.1.1 brokers such as aedes, or auto: 5, and for the bridge 3.1.1 when the broker rejects 5',
    defaultValue: 'auto',
  },
];

export function stringOption(options: Record<string, unknown>, name: string): string | null {
  const value = options[name];
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Parses a numeric option and throws with the option name and value when it is not a number in range. */
export function numberOption(options: Record<string, unknown>, name: string, fallback: number, min = 0, max = Number.POSITIVE_INFINITY): number {
  const text = stringOption(options, name);
  if (text === null) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    const range = max === Number.POSITIVE_INFINITY ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new Error(`invalid --${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${JSON.stringify(text)}: expected a number ${range}`);
  }
  return value;
}

/** Throws when `url` is not an mqtt:// or mqtts:// URL. */
function checkBrokerUrl(url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    protocol = '';
  }
  if (protocol !== 'mqtt:' && protocol !== 'mqtts:') {
    throw new Error(`invalid --broker ${JSON.stringify(url)}: expected an mqtt:// or mqtts:// URL such as mqtt://127.0.0.1:1883`);
  }
}

/**
 * Builds broker options from the shared command-line options and a URL. `--mqtt-version auto`
 * leaves `protocolVersion` unset, which clients read as 5.
 */
export function brokerFromCli(url: string, options: Record<string, unknown>): BrokerOptions {
  checkBrokerUrl(url);
  const version = stringOption(options, 'mqttVersion') ?? 'auto';
  if (version !== '4' && version !== '5' && version !== 'auto') {
    throw new Error(`invalid --mqtt-version ${JSON.stringify(version)}: use 5, 4 for MQTT 3.1.1, or auto`);
  }
  const broker: BrokerOptions = { url };
  if (version !== 'auto') broker.protocolVersion = version === '4' ? 4 : 5;
  const username = stringOption(options, 'username');
  const password = stringOption(options, 'password') ?? process.env.FIELDLOOP_MQTT_PASSWORD;
  if (username !== null) broker.username = username;
  if (password !== undefined && password !== '') broker.password = password;
  const ca = stringOption(options, 'ca');
  const cert = stringOption(options, 'cert');
  const key = stringOption(options, 'key');
  if (ca || cert || key) broker.tls = { ...(ca ? { caFile: ca } : {}), ...(cert ? { certFile: cert } : {}), ...(key ? { keyFile: key } : {}) };
  return broker;
}

/** Resolves after `seconds` (when above 0), on SIGINT or SIGTERM, or when the signal aborts. */
export function waitForStop(seconds: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const finish = (reason: string): void => {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onTerminate);
      resolve(reason);
    };
    const onInterrupt = (): void => finish('SIGINT');
    const onTerminate = (): void => finish('SIGTERM');
    const timer = seconds > 0 ? setTimeout(() => finish(`ran for ${seconds} s`), seconds * 1000) : null;
    process.once('SIGINT', onInterrupt);
    process.once('SIGTERM', onTerminate);
    signal?.addEventListener('abort', () => finish('aborted'), { once: true });
  });
}
