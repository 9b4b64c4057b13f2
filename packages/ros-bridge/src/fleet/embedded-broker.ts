import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';

/** An aedes MQTT 3.1.1 broker running in this process on a loopback port. */
export interface EmbeddedBroker {
  /** `mqtt://127.0.0.1:<port>`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts aedes with in-memory persistence on 127.0.0.1. Port 0 (the default) picks a free port.
 * aedes speaks MQTT 3.1.1 only, so its clients connect with protocol version 4 and cannot use
 * shared subscriptions. Its sessions and queued messages end with the process.
 */
export async function startEmbeddedBroker(port = 0): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${bound}`,
    port: bound,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
