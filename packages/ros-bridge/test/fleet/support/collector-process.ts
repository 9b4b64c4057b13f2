// A collector process for the crash test, run as `node --import tsx collector-process.ts URL STORE STATE`.
// It never commits on its own, prints `ready` once subscribed and runs until it is killed.
import { FleetCollector } from '../../../src/fleet/collector.ts';

const [url, storeDir, statePath] = process.argv.slice(2);
if (!url || !storeDir || !statePath) throw new Error('usage: collector-process.ts URL STORE STATE');
await FleetCollector.start({
  fleet: 'test-fleet',
  broker: { url, protocolVersion: 4 },
  storeDir,
  statePath,
  clientId: 'crash-test-collector',
  commitEvery: 1_000_000,
  commitIntervalMs: 3_600_000,
});
process.stdout.write('ready\n');
setInterval(() => {}, 1000);
