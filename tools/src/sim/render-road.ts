/** Parameters of one procedurally drawn road frame. */
export interface RoadScene {
  width: number;
  height: number;
  /** Bend of the road ahead: negative bends left, positive right; about -1 to 1. */
  curvature: number;
  /** Car's lateral offset from the lane centre, as a share of the road's half-width; about -0.5 to 0.5. */
  offset: number;
  /** Light level, 1 for day and about 0.35 for night. */
  brightness: number;
  /** Phase of the dashed centre line, so consecutive frames move. */
  dashPhase: number;
  random: () => number;
}

/**
 * Steering angle in degrees that keeps the car on the road: turn into the bend and back toward
 * the lane centre, clamped to the servo's range of plus or minus 30 degrees.
 */
export function steeringFor(scene: Pick<RoadScene, 'curvature' | 'offset'>): number {
  const angle = 24 * scene.curvature - 16 * scene.offset;
  return Math.max(-30, Math.min(30, angle));
}

function clampByte(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
}

/** Draws a camera view of a road with sky, grass, edges and a dashed centre line, as RGB bytes. */
export function renderRoad(scene: RoadScene): Uint8Array {
  const { width, height, curvature, offset, brightness, dashPhase, random } = scene;
  const rgb = new Uint8Array(width * height * 3);
  const horizon = Math.round(height * 0.38);
  for (let y = 0; y < height; y += 1) {
    // depth runs from 0 at the bottom row to 1 at the horizon.
    const depth = y <= horizon ? 1 : (height - 1 - y) / (height - 1 - horizon);
    const halfWidth = width * (0.46 * (1 - depth) + 0.03 * depth);
    const centre = width / 2 - offset * halfWidth * (1 - depth) + curvature * width * 0.45 * depth * depth;
    for (let x = 0; x < width; x += 1) {
      const at = (y * width + x) * 3;
      const noise = (random() - 0.5) * 18;
      let color: [number, number, number];
      if (y <= horizon) {
        const sky = y / horizon;
        color = [90 + 60 * sky, 140 + 50 * sky, 210 + 20 * sky];
      } else {
        const distance = Math.abs(x - centre);
        const edge = Math.max(1, halfWidth * 0.06);
        const dashOn = (depth * 14 + dashPhase) % 2 < 1;
        if (distance < halfWidth) {
          color = [92, 92, 96];
          if (distance > halfWidth - edge) color = [235, 235, 235];
          if (distance < Math.max(0.6, edge * 0.6) && dashOn) color = [240, 220, 90];
        } else {
          color = [60, 125, 55];
        }
      }
      rgb[at] = clampByte(color[0] * brightness + noise);
      rgb[at + 1] = clampByte(color[1] * brightness + noise);
      rgb[at + 2] = clampByte(color[2] * brightness + noise);
    }
  }
  return rgb;
}
