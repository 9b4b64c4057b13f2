// A collector process for the crash tests, run as
// `node --import tsx collector-process.ts URL STORE STATE [MQTT_VERSION [CONNECTIONS]]` (default 4 and 1).
// It never commits on its own, prints `ready` once subscribed and runs until it is killed.
import { FleetCollector } from '../../../src/fleet/collector.ts';

const [url, storeDir, statePath, version = '4', connections = '1'] = process.argv.slice(2);
if (!url || !storeDir || !statePath || (version !== '4' && version !== '5')) {
  throw new Error('usage: collector-process.ts URL STORE STATE [4|5 [CONNECTIONS]]');
}
await FleetCollector.start({
  fleet: 'test-fleet',
  broker: { url, protocolVersion: version === '5' ? 5 : 4 },
  connections: Number(connections),
  storeDir,
  statePath,
  clientId: 'crash-test-collector',
  commitEvery: 1_000_000,
  commitIntervalMs: 3_600_000,
});
process.stdout.write('ready\n');
setInterval(() => {}, 1000);
