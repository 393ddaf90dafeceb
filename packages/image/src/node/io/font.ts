/**
 * A tiny built-in 3×5 pixel font for labels on image grids (class names, time stamps). Drawing text through
 * SVG would depend on the fonts installed on each machine; this renders the same pixels everywhere.
 * Covers digits, letters (lowercase drawn as uppercase), space and . , - _ = : / + ( ) %; anything else is '?'.
 */
const GLYPHS: Record<string, string> = {
  '0': '###|#.#|#.#|#.#|###',
  '1': '.#.|##.|.#.|.#.|###',
  '2': '###|..#|###|#..|###',
  '3': '###|..#|.##|..#|###',
  '4': '#.#|#.#|###|..#|..#',
  '5': '###|#..|###|..#|###',
  '6': '###|#..|###|#.#|###',
  '7': '###|..#|.#.|.#.|.#.',
  '8': '###|#.#|###|#.#|###',
  '9': '###|#.#|###|..#|###',
  A: '.#.|#.#|###|#.#|#.#',
  B: '##.|#.#|##.|#.#|##.',
  C: '.##|#..|#..|#..|.##',
  D: '##.|#.#|#.#|#.#|##.',
  E: '###|#..|##.|#..|###',
  F: '###|#..|##.|#..|#..',
  G: '.##|#..|#.#|#.#|.##',
  H: '#.#|#.#|###|#.#|#.#',
  I: '###|.#.|.#.|.#.|###',
  J: '..#|..#|..#|#.#|.#.',
  K: '#.#|#.#|##.|#.#|#.#',
  L: '#..|#..|#..|#..|###',
  M: '#.#|###|###|#.#|#.#',
  N: '##.|#.#|#.#|#.#|#.#',
  O: '.#.|#.#|#.#|#.#|.#.',
  P: '##.|#.#|##.|#..|#..',
  Q: '.#.|#.#|#.#|##.|.##',
  R: '##.|#.#|##.|#.#|#.#',
  S: '.##|#..|.#.|..#|##.',
  T: '###|.#.|.#.|.#.|.#.',
  U: '#.#|#.#|#.#|#.#|###',
  V: '#.#|#.#|#.#|#.#|.#.',
  W: '#.#|#.#|###|###|#.#',
  X: '#.#|#.#|.#.|#.#|#.#',
  Y: '#.#|#.#|.#.|.#.|.#.',
  Z: '###|..#|.#.|#..|###',
  ' ': '...|...|...|...|...',
  '.': '...|...|...|...|.#.',
  ',': '...|...|...|.#.|#..',
  '-': '...|...|###|...|...',
  _: '...|...|...|...|###',
  '=': '...|###|...|###|...',
  ':': '...|.#.|...|.#.|...',
  '/': '..#|..#|.#.|#..|#..',
  '+': '...|.#.|###|.#.|...',
  '(': '.#.|#..|#..|#..|.#.',
  ')': '.#.|..#|..#|..#|.#.',
  '%': '#.#|..#|.#.|#..|#.#',
  '?': '###|..#|.#.|...|.#.',
};

export const FONT_WIDTH = 3;
export const FONT_HEIGHT = 5;
/** Horizontal distance between the starts of two characters, in font pixels. */
export const FONT_ADVANCE = 4;

/** Width in font pixels of a line of text. */
export function textWidth(text: string): number {
  return text.length === 0 ? 0 : text.length * FONT_ADVANCE - 1;
}

/** Calls `plot(x, y)` for every lit font pixel of `text`, with (0, 0) the top-left of the first character. */
export function forEachTextPixel(text: string, plot: (x: number, y: number) => void): void {
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const glyph = GLYPHS[ch] ?? GLYPHS[ch.toUpperCase()] ?? GLYPHS['?'];
    const rows = glyph.split('|');
    for (let y = 0; y < FONT_HEIGHT; y++) {
      for (let x = 0; x < FONT_WIDTH; x++) if (rows[y][x] === '#') plot(i * FONT_ADVANCE + x, y);
    }
  }
}
