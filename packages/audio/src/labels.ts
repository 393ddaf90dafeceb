/**
 * Two conditions in one label. The audio model is conditioned on a pitch and a timbre, each with its own null value
 * ("no pitch", "no timbre") so guidance can drop either. Both travel as ONE int32 label, so everything built for a
 * single class label — core's classifier-free guidance, MeanFlow's training-time guidance and label dropout — works
 * unchanged:
 *
 *   label = pitch · (numTimbres + 1) + timbre,  pitch ∈ 0..numPitches (numPitches = none),
 *                                                timbre ∈ 0..numTimbres (numTimbres = none)
 *
 * The label with both null is (numPitches + 1)(numTimbres + 1) − 1 = `nullLabel`, which is also the model's
 * `numClasses`: the convention of a class-conditional model whose null class is numClasses.
 */
export interface LabelSpace {
  /** Distinct pitches (0: the model is not conditioned on pitch). */
  numPitches: number;
  /** Distinct timbres (0: not conditioned on timbre). */
  numTimbres: number;
}

/** The number of non-null joint labels; the all-null label has this index. */
export function nullLabel(space: LabelSpace): number {
  return (space.numPitches + 1) * (space.numTimbres + 1) - 1;
}

/** The joint label of a pitch index and a timbre index; `null` (or undefined) for either means "none". */
export function jointLabel(space: LabelSpace, pitch: number | null | undefined, timbre: number | null | undefined): number {
  const p = pitch ?? space.numPitches;
  const k = timbre ?? space.numTimbres;
  if (!Number.isInteger(p) || p < 0 || p > space.numPitches) throw new RangeError(`jointLabel: pitch index ${pitch} is not in 0..${space.numPitches - 1} (or null)`);
  if (!Number.isInteger(k) || k < 0 || k > space.numTimbres) throw new RangeError(`jointLabel: timbre index ${timbre} is not in 0..${space.numTimbres - 1} (or null)`);
  return p * (space.numTimbres + 1) + k;
}

/** The pitch and timbre indices of a joint label (null where the label has none). */
export function splitLabel(space: LabelSpace, label: number): { pitch: number | null; timbre: number | null } {
  if (!Number.isInteger(label) || label < 0 || label > nullLabel(space)) throw new RangeError(`splitLabel: label ${label} is not in 0..${nullLabel(space)}`);
  const pitch = Math.floor(label / (space.numTimbres + 1));
  const timbre = label - pitch * (space.numTimbres + 1);
  return { pitch: pitch === space.numPitches ? null : pitch, timbre: timbre === space.numTimbres ? null : timbre };
}

/**
 * Label dropout for guidance with two conditions: each condition is dropped on its own with probability p (so the
 * model learns p(x | pitch), p(x | timbre) and p(x), not only the joint and the unconditional). `next()` draws
 * uniform numbers in [0, 1) — the trainer's Rng, so resumes stay exact.
 */
export function dropConditions(labels: Int32Array, space: LabelSpace, probability: number, rng: { next(): number }): Int32Array {
  if (!(probability >= 0 && probability <= 1)) throw new RangeError(`dropConditions: probability must be in [0, 1], got ${probability}`);
  return labels.map((label) => {
    const { pitch, timbre } = splitLabel(space, label);
    const keepPitch = rng.next() >= probability;
    const keepTimbre = rng.next() >= probability;
    return jointLabel(space, keepPitch ? pitch : null, keepTimbre ? timbre : null);
  });
}
