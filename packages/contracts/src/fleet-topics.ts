/**
 * MQTT topic names of a fleet. `fleet` and `robot` ids are restricted to letters, digits, `-` and
 * `_`, so they never contain MQTT wildcards or separators.
 */
export const fleetTopics = {
  /** Retained bundle manifest of the model the fleet should run. */
  model: (fleet: string) => `fieldloop/${fleet}/model`,
  /** Retained trigger campaign (capture configuration). */
  campaign: (fleet: string) => `fieldloop/${fleet}/campaign`,
  /** Samples a robot sends home. */
  samples: (fleet: string, robot: string) => `fieldloop/${fleet}/robots/${robot}/samples`,
  /** Subscription filter for every robot's samples. */
  allSamples: (fleet: string) => `fieldloop/${fleet}/robots/+/samples`,
  /** A robot's update outcomes (applied, rejected, rolled back). */
  updates: (fleet: string, robot: string) => `fieldloop/${fleet}/robots/${robot}/updates`,
  allUpdates: (fleet: string) => `fieldloop/${fleet}/robots/+/updates`,
  /** A robot's predictions when they go to MQTT. */
  predictions: (fleet: string, robot: string) => `fieldloop/${fleet}/robots/${robot}/predictions`,
} as const;

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks a fleet or robot id and throws with the rule when it is invalid. */
export function assertFleetId(kind: 'fleet' | 'robot', id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new Error(`invalid ${kind} id ${JSON.stringify(id)}: use 1 to 64 letters, digits, - or _`);
  }
}
