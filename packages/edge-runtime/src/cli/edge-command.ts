import type { CliCommand, CliResult } from '@fieldloop/contracts';
import { runKeygen, runSign } from './edge-keys.ts';
import { runPublish } from './edge-publish.ts';
import { runEdge } from './edge-run.ts';

const ACTIONS = ['run', 'keygen', 'sign', 'publish'];

/** `fieldloop edge <action>`: run a model on a robot, make signing keys, sign or publish bundles. */
export const edgeCommand: CliCommand = {
  name: 'edge',
  summary: 'run a model bundle on a robot with capture triggers and signed updates; make keys, sign and publish bundles',
  description:
    'Actions (first argument):\n' +
    '  run      serve --bundle DIR, or the fleet model kept in --store with updates from --fleet over --broker, on --source\n' +
    '           (folder:DIR, recording:PATH, mqtt:TOPIC, ros2:TOPIC); predictions go to stdout as JSON lines or to MQTT (--output mqtt)\n' +
    '  keygen   write an ed25519 key pair (--out DIR, --name NAME)\n' +
    '  sign     refresh the model hash in --bundle DIR and sign its manifest with --key FILE\n' +
    '  publish  announce --bundle DIR to --fleet on --broker, optionally to --robots or a --percentage, and stop when\n' +
    '           the failed share passes --stop-above',
  arguments: '<action>',
  options: [
    { flags: '--bundle <dir>', description: 'model bundle directory (manifest.json and the model)' },
    { flags: '--fleet <id>', description: 'fleet id: the robot follows its model and campaign topics' },
    { flags: '--robot <id>', description: 'this robot id', defaultValue: 'robot' },
    { flags: '--broker <url>', description: 'mqtt:// URL of the fleet broker' },
    { flags: '--mqtt-version <n>', description: 'MQTT protocol version: 5, or 4 for MQTT 3.1.1 brokers such as aedes', defaultValue: '5' },
    { flags: '--store <dir>', description: 'bundle store directory (bundles, current and previous pointers)' },
    { flags: '--trusted-key <file>', description: 'ed25519 public key (PEM) whose signatures are accepted (repeatable)', repeatable: true, defaultValue: [] },
    { flags: '--source <spec>', description: 'frames: folder:DIR, recording:PATH, mqtt:TOPIC (encoded images) or ros2:TOPIC (needs rclnodejs)' },
    { flags: '--ros-type <type>', description: 'message type of a ros2: source', defaultValue: 'sensor_msgs/msg/CompressedImage' },
    { flags: '--topic <name>', description: 'image topic of a recording; default: the first image topic' },
    { flags: '--speed <x>', description: 'recording replay speed, 1 = real time, 0 = as fast as inference runs', defaultValue: '1' },
    { flags: '--loop', description: 'repeat an image folder until stopped', defaultValue: false },
    { flags: '--output <kind>', description: 'where predictions go: stdout (JSON lines) or mqtt', defaultValue: 'stdout' },
    { flags: '--campaign <file>', description: 'YAML or JSON capture campaign; the fleet campaign topic replaces it' },
    { flags: '--shadow <dir>', description: 'candidate bundle run beside the active model; its outputs are only compared' },
    { flags: '--engine <names>', description: 'engines to try, comma-separated (litert, tfjs-tflite, tfjs-wasm, tfjs-cpu); default: fastest' },
    { flags: '--latency-budget <ms>', description: 'inference latency budget in milliseconds', defaultValue: '100' },
    { flags: '--probes <dir>', description: 'probe images for update health checks; default: STORE/probes' },
    { flags: '--duration <s>', description: 'stop after this many seconds' },
    { flags: '--out <dir>', description: 'keygen: output directory', defaultValue: '.' },
    { flags: '--name <name>', description: 'keygen: file name stem of the key pair', defaultValue: 'edge-signing' },
    { flags: '--key <file>', description: 'sign: ed25519 private key (PEM)' },
    { flags: '--robots <ids>', description: 'publish: comma-separated canary robot ids' },
    { flags: '--percentage <n>', description: 'publish: share of robots to update, 0 to 100' },
    { flags: '--stop-above <share>', description: 'publish: stop the rollout when failed robots exceed this share (0 to 1)', defaultValue: '0.5' },
    { flags: '--wait <s>', description: 'publish: seconds to wait for robot reports', defaultValue: '0' },
  ],
  async run(args, options, context): Promise<CliResult> {
    const action = args[0];
    switch (action) {
      case 'run':
        return runEdge(options, context);
      case 'keygen':
        return runKeygen(options);
      case 'sign':
        return runSign(options);
      case 'publish':
        return runPublish(options, context);
      default:
        throw new Error(`unknown edge action ${JSON.stringify(action ?? '')}; use one of ${ACTIONS.join(', ')}`);
    }
  },
};
