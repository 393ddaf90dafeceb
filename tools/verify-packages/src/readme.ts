/**
 * The runnable examples of a README: fenced code blocks whose info string is `ts example` (or `js example`).
 * verify-packages runs each, types stripped, under plain Node in a project that installed the packed packages.
 */
export function readmeExamples(markdown: string): string[] {
  const examples: string[] = [];
  const fence = /^```(ts|js) example[^\n]*\n([\s\S]*?)^```\s*$/gm;
  for (const match of markdown.matchAll(fence)) examples.push(match[2]);
  return examples;
}
