import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';

/** TLS files for `mqtts://` brokers, as PEM paths. */
export interface BrokerTlsOptions {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Set false only for a test broker with a self-signed certificate that `caFile` does not cover. */
  rejectUnauthorized?: boolean;
}

/** How to reach an MQTT broker. */
export interface BrokerOptions {
  /** `mqtt://host:port` or `mqtts://host:port`. */
  url: string;
  username?: string;
  password?: string;
  tls?: BrokerTlsOptions;
  /** MQTT protocol version: 5 (default) or 4 (3.1.1, which aedes speaks). */
  protocolVersion?: 4 | 5;
  /** Milliseconds between reconnect attempts; default 1000. */
  reconnectPeriodMs?: number;
}

/**
 * Tells whether an mqtt.js connection error is a broker's refusal of the protocol version: CONNACK
 * return code 1 of MQTT 3.1.1, or reason code 132 (0x84) of MQTT 5.
 */
export function isProtocolVersionRefusal(error: Error): boolean {
  const code = (error as Error & { code?: unknown }).code;
  return code === 1 || code === 132;
}

function readPem(path: string, kind: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`reading the TLS ${kind} file ${path} failed: ${(error as Error).message}`, { cause: error });
  }
}

/** Builds mqtt.js client options from broker options plus the caller's session settings. */
export function mqttClientOptions(broker: BrokerOptions, session: IClientOptions): IClientOptions {
  const options: IClientOptions = {
    protocolVersion: broker.protocolVersion ?? 5,
    reconnectPeriod: broker.reconnectPeriodMs ?? 1000,
    // Without this option mqtt.js stops reconnecting after a refused CONNACK (server unavailable,
    // not authorized, protocol version), but a robot or collector must keep trying.
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    ...session,
  };
  if (broker.username !== undefined) options.username = broker.username;
  if (broker.password !== undefined) options.password = broker.password;
  const tls = broker.tls;
  if (tls) {
    if (tls.caFile) options.ca = readPem(tls.caFile, 'CA');
    if (tls.certFile) options.cert = readPem(tls.certFile, 'certificate');
    if (tls.keyFile) options.key = readPem(tls.keyFile, 'key');
    if (tls.rejectUnauthorized !== undefined) options.rejectUnauthorized = tls.rejectUnauthorized;
  }
  return options;
}
