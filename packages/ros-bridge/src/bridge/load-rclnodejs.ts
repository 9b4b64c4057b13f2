/**
 * The part of the rclnodejs API (1.x) that the live bridge uses. rclnodejs is an optional
 * dependency that needs a ROS 2 installation, so it is typed here rather than imported.
 */
export interface RclSubscriptionOptions {
  /** When true the callback receives the serialized (CDR) message as a Buffer. */
  isRaw: boolean;
}

export interface RclNode {
  createSubscription(typeClass: string, topic: string, options: RclSubscriptionOptions, callback: (message: Buffer) => void): unknown;
  getTopicNamesAndTypes(): Array<{ name: string; types: string[] }>;
  spin(timeoutMs?: number): void;
  destroy(): void;
}

export interface Rclnodejs {
  init(): Promise<void>;
  Node: new (name: string) => RclNode;
  shutdown(): void;
}

/** Result of loading rclnodejs: the module, or the reason it is unavailable. */
export type RclnodejsLoad = { available: true; rclnodejs: Rclnodejs } | { available: false; reason: string };

/** Imports rclnodejs when it is installed and its ROS 2 libraries load. */
export async function loadRclnodejs(): Promise<RclnodejsLoad> {
  // A variable module name keeps TypeScript and bundlers from requiring the optional package.
  const moduleName = 'rclnodejs';
  try {
    const imported = (await import(moduleName)) as { default?: Rclnodejs } & Partial<Rclnodejs>;
    const rclnodejs = (imported.default ?? imported) as Rclnodejs;
    if (typeof rclnodejs.init !== 'function' || typeof rclnodejs.Node !== 'function') {
      return { available: false, reason: 'the rclnodejs module found has no init() or Node class' };
    }
    return { available: true, rclnodejs };
  } catch (error) {
    return { available: false, reason: `rclnodejs could not be loaded: ${(error as Error).message}` };
  }
}
