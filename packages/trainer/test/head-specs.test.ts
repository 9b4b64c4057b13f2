import { MAX_LABEL_VALUES_PER_HEAD } from '@fieldloop/contracts';
import { describe, expect, it } from 'vitest';
import { buildHeadSpecs } from '../src/data/head-specs.ts';
import { createSyntheticStore } from './helpers/synthetic-store.ts';
import { tinyConfig } from './helpers/tiny-config.ts';

describe('buildHeadSpecs', () => {
  it('reads every class of a head over the statistics limit', async () => {
    const classes = MAX_LABEL_VALUES_PER_HEAD + 20;
    const { store } = await createSyntheticStore({ signs: classes, signClasses: classes, steering: 10 });
    try {
      const stats = store.stats('latest');
      expect(Object.keys(stats.perLabel.sign ?? {})).toHaveLength(MAX_LABEL_VALUES_PER_HEAD);
      expect(stats.perLabelOverflow?.sign).toBe(20);
      const heads = buildHeadSpecs(store, 'latest', tinyConfig().heads);
      const sign = heads.find((head) => head.name === 'sign');
      expect(sign?.classes).toHaveLength(classes);
      expect(sign?.classes?.slice(0, 3)).toEqual(['0', '1', '2']);
      expect(sign?.classes?.at(-1)).toBe(String(classes - 1));
    } finally {
      await store.close();
    }
  });
});
