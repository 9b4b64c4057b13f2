import type { Split } from './sample-record.ts';

export const SPLITS: readonly Split[] = ['train', 'val', 'test'];
