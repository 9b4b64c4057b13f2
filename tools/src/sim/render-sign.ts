/** Sign classes the generator draws, in label order. */
export const SIGN_CLASSES = ['stop', 'yield', 'speed-limit', 'mandatory', 'warning', 'priority'] as const;
export type SignClass = (typeof SIGN_CLASSES)[number];

type Rgb = [number, number, number];
type Point = [number, number];

function polygon(sides: number, radius: number, rotation: number): Point[] {
  return Array.from({ length: sides }, (_, i) => {
    const angle = rotation + (2 * Math.PI * i) / sides;
    return [radius * Math.cos(angle), radius * Math.sin(angle)];
  });
}

function insidePolygon(x: number, y: number, points: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i, i += 1) {
    const [xi, yi] = points[i] as Point;
    const [xj, yj] = points[j] as Point;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Colour of a sign at a point relative to its centre, in units of its radius, or null outside it. */
function signColor(kind: SignClass, x: number, y: number): Rgb | null {
  const r = Math.hypot(x, y);
  const red: Rgb = [200, 30, 35];
  const white: Rgb = [240, 240, 240];
  const black: Rgb = [20, 20, 20];
  switch (kind) {
    case 'stop': {
      if (!insidePolygon(x, y, polygon(8, 1, Math.PI / 8))) return null;
      return Math.abs(y) < 0.12 && Math.abs(x) < 0.6 ? white : red;
    }
    case 'yield': {
      const outer = polygon(3, 1, Math.PI / 2);
      if (!insidePolygon(x, y, outer)) return null;
      return insidePolygon(x, y, polygon(3, 0.55, Math.PI / 2)) ? white : red;
    }
    case 'speed-limit': {
      if (r > 1) return null;
      if (r > 0.75) return red;
      return Math.abs(x) < 0.35 && Math.abs(y) < 0.1 ? black : white;
    }
    case 'mandatory': {
      if (r > 1) return null;
      const arrow = (Math.abs(x) < 0.12 && y > -0.5 && y < 0.55) || (y < -0.2 && y > -0.6 && Math.abs(x) < 0.6 + (y + 0.2));
      return arrow ? white : [30, 80, 190];
    }
    case 'warning': {
      const outer = polygon(3, 1, -Math.PI / 2);
      if (!insidePolygon(x, y, outer)) return null;
      if (!insidePolygon(x, y, polygon(3, 0.6, -Math.PI / 2))) return red;
      return Math.abs(x) < 0.08 && y > -0.25 && y < 0.2 ? black : white;
    }
    case 'priority': {
      const outer = polygon(4, 1, 0);
      if (!insidePolygon(x, y, outer)) return null;
      return insidePolygon(x, y, polygon(4, 0.7, 0)) ? [235, 190, 20] : white;
    }
  }
}

/** Parameters of one sign crop. */
export interface SignScene {
  size: number;
  kind: SignClass;
  random: () => number;
}

/** Draws a square crop with one sign on a noisy background, at a random scale, shift and light level. */
export function renderSign(scene: SignScene): Uint8Array {
  const { size, kind, random } = scene;
  const rgb = new Uint8Array(size * size * 3);
  const radius = size * (0.3 + 0.15 * random());
  const cx = size / 2 + (random() - 0.5) * size * 0.15;
  const cy = size / 2 + (random() - 0.5) * size * 0.15;
  const light = 0.45 + 0.6 * random();
  const background: Rgb = [60 + 120 * random(), 60 + 120 * random(), 60 + 120 * random()];
  for (let py = 0; py < size; py += 1) {
    for (let px = 0; px < size; px += 1) {
      const color = signColor(kind, (px + 0.5 - cx) / radius, (py + 0.5 - cy) / radius) ?? background;
      const at = (py * size + px) * 3;
      for (let c = 0; c < 3; c += 1) {
        const value = (color[c] as number) * light + (random() - 0.5) * 30;
        rgb[at + c] = value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
      }
    }
  }
  return rgb;
}
