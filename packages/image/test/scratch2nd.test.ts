import { it } from 'vitest';
import { tf, SinusoidalEmbedding } from '@flowmatch/core';
it('sinus roundtrip', () => {
  const a = new SinusoidalEmbedding(8); const b = new SinusoidalEmbedding(8);
  b.loadStateDict(a.stateDict());
  try { console.log(b.forward(tf.tensor1d([0.5])).dataSync()); } catch (e) { console.log('FAIL', (e as Error).message); }
});
