/** Learning rate at a step: linear warmup from 0, then constant, linear or cosine decay to minRatio·lr. */
export interface LrScheduleConfig {
  warmupSteps?: number;
  decay?: 'cosine' | 'linear' | 'constant';
  /** Final learning rate as a fraction of the peak. Default 0. */
  minRatio?: number;
}

export function learningRateAt(step: number, totalSteps: number, peak: number, config: LrScheduleConfig = {}): number {
  const warmup = config.warmupSteps ?? 0;
  const minRatio = config.minRatio ?? 0;
  if (warmup > 0 && step < warmup) return (peak * (step + 1)) / warmup;
  const decay = config.decay ?? 'cosine';
  if (decay === 'constant') return peak;
  const span = Math.max(1, totalSteps - warmup);
  const progress = Math.min(1, Math.max(0, (step - warmup) / span));
  const shape = decay === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return peak * (minRatio + (1 - minRatio) * shape);
}
