// Note names and MIDI numbers (A4 = 69 = 440 Hz, C4 = 60), for pitch labels read from folder and file names.

const PITCH_CLASS: Record<string, number> = { C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11 };
const SHARP_NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];

/**
 * MIDI number of a note name: 'A4' (69), 'C#5', 'Bb3', 'c4', a bare number '69' or 'midi69'. Octaves follow
 * scientific pitch notation (C4 = 60); accidentals: '#', 'b' (also '♯', '♭'), possibly doubled.
 */
export function parseNoteName(text: string): number {
  const s = text.trim();
  const midi = /^(?:midi[-_ ]?)?(\d{1,3})$/i.exec(s);
  if (midi) {
    const n = Number(midi[1]);
    if (n > 127) throw new Error(`parseNoteName: '${text}' is outside the MIDI range 0..127`);
    return n;
  }
  const m = /^([A-Ga-g])([#♯b♭]{0,2})(-?\d{1,2})$/.exec(s);
  if (!m) throw new Error(`parseNoteName: '${text}' is not a note name like 'A4', 'C#5', 'Bb3', '69' or 'midi69'`);
  let n = PITCH_CLASS[m[1].toUpperCase()];
  for (const c of m[2]) n += c === '#' || c === '♯' ? 1 : -1;
  const result = n + 12 * (Number(m[3]) + 1);
  if (result < 0 || result > 127) throw new Error(`parseNoteName: '${text}' is outside the MIDI range 0..127`);
  return result;
}

/** Note name with sharps, e.g. 69 -> 'A4', 73 -> 'C#5', 0 -> 'C-1'. */
export function midiToNoteName(midi: number): string {
  if (!Number.isInteger(midi) || midi < 0 || midi > 127) throw new Error(`midiToNoteName: midi must be an integer in 0..127, got ${midi}`);
  return `${SHARP_NAMES[midi % 12]}${Math.floor(midi / 12) - 1}`;
}

/** Equal-tempered frequency: 440 * 2^((midi - 69) / 12). Fractional MIDI numbers are allowed. */
export function midiToHz(midi: number): number {
  return 440 * 2 ** ((midi - 69) / 12);
}

/** Inverse of midiToHz (fractional). */
export function hzToMidi(hz: number): number {
  if (!(hz > 0)) throw new Error(`hzToMidi: hz must be > 0, got ${hz}`);
  return 69 + 12 * Math.log2(hz / 440);
}
