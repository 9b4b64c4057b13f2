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
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`invalid embedded broker port ${port}: expected an integer from 0 to 65535, where 0 picks a free port`);
  }
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    // The broker's timers would keep the process alive after a failed start.
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw new Error(
      `starting the embedded broker on 127.0.0.1:${port} failed: ${(error as Error).message}. ` +
        (inUse ? 'Another process listens on that port: choose another port, or pass the URL of that broker if it is one.' : 'Choose another port.'),
      { cause: error },
    );
  }
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
