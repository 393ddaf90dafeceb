/**
 * A folder of image files as an ImageDataset. Layouts:
 *
 *   dir/cat/001.png, dir/dog/a.jpg, ...   → labelled: classes are the sub-folder names, sorted
 *   dir/001.png, dir/more/002.webp, ...   → unlabelled (labelsFromSubfolders: false), searched recursively
 *
 * Every image is decoded with sharp, resized to the model size (`fit`), converted to 1 or 3 channels and scaled
 * to [-1, 1]. Files and folders whose names start with '.' are ignored; extensions match case-insensitively.
 */
import { readdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { ArrayImageDataset } from '../../dataset.js';
import { readImage, resolveImageSize, type ResizeFit } from '../io/read.js';

export const DEFAULT_IMAGE_EXTENSIONS: readonly string[] = ['png', 'jpg', 'jpeg', 'webp'];

export interface ImageFolderOptions {
  /** Model image size: one number for square images, or [height, width]. */
  size: number | [number, number];
  /** 1 = grayscale, 3 = RGB. Default 3. */
  channels?: 1 | 3;
  /** 'cover' (default: scale and centre-crop), 'contain' (scale and pad with background) or 'fill' (stretch). */
  fit?: ResizeFit;
  /**
   * true: one class per immediate sub-folder (its images found recursively); false: no labels, every image under
   * `dir` recursively; 'auto' (default): true when some immediate sub-folder holds images, else false.
   */
  labelsFromSubfolders?: 'auto' | boolean;
  /** What to do with a file that cannot be decoded: 'throw' (default) or 'skip' (listed in `skipped`). */
  onError?: 'throw' | 'skip';
  /** File extensions to load, without the dot. Default png, jpg, jpeg, webp. */
  extensions?: readonly string[];
  /** How many files are decoded at once. Default: the number of CPUs, at most 16. */
  concurrency?: number;
  /** Padding colour for 'contain' and for flattening transparency. Default black. */
  background?: { r: number; g: number; b: number };
}

export interface SkippedFile {
  file: string;
  reason: string;
}

/** A loaded folder: an in-memory data set plus where each image came from and what was skipped. */
export class ImageFolderDataset extends ArrayImageDataset {
  /** Absolute folder the images were loaded from. */
  readonly root: string;
  /** Absolute path of each image, index-aligned with the images. */
  readonly files: readonly string[];
  /** Files that were not loaded: undecodable ones with onError 'skip', and loose files when classes come from sub-folders. */
  readonly skipped: readonly SkippedFile[];
  constructor(init: ConstructorParameters<typeof ArrayImageDataset>[0] & { root: string; files: string[]; skipped: SkippedFile[] }) {
    super(init);
    this.root = init.root;
    this.files = init.files;
    this.skipped = init.skipped;
  }
}

async function listImages(dir: string, extensions: Set<string>): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listImages(path, extensions)));
    else if (entry.isFile() && extensions.has(extname(entry.name).slice(1).toLowerCase())) out.push(path);
  }
  return out;
}

async function mapPool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/**
 * Loads every image in a folder into memory as an ImageDataset with values in [-1, 1] (see the module comment
 * for layouts). Throws when the folder does not exist or holds no images (the message names the folder), and —
 * with onError 'throw' — when a file cannot be decoded (the message names the file and sharp's reason).
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions): Promise<ImageFolderDataset> {
  const root = resolve(dir);
  const [h, w] = resolveImageSize(options.size, 'loadImageFolder');
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new RangeError(`loadImageFolder: channels must be 1 or 3, got ${channels}`);
  const onError = options.onError ?? 'throw';
  if (onError !== 'throw' && onError !== 'skip') throw new Error(`loadImageFolder: onError must be 'throw' or 'skip', got ${JSON.stringify(onError)}`);
  const extList = (options.extensions ?? DEFAULT_IMAGE_EXTENSIONS).map((e) => e.replace(/^\./, '').toLowerCase());
  const extensions = new Set(extList);
  const concurrency = options.concurrency ?? Math.min(16, availableParallelism());
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`loadImageFolder: concurrency must be a positive integer, got ${concurrency}`);
  const mode = options.labelsFromSubfolders ?? 'auto';

  let info;
  try {
    info = await stat(root);
  } catch (err) {
    throw new Error(`loadImageFolder: cannot open folder ${root}: ${(err as Error).message}`);
  }
  if (!info.isDirectory()) throw new Error(`loadImageFolder: ${root} is not a folder`);

  // Top level: loose files and class sub-folders.
  const entries = (await readdir(root, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  const looseFiles = entries
    .filter((e) => e.isFile() && extensions.has(extname(e.name).slice(1).toLowerCase()))
    .map((e) => join(root, e.name))
    .sort();
  const classDirs = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const classFiles = new Map<string, string[]>();
  for (const name of classDirs) {
    const files = await listImages(join(root, name), extensions);
    if (files.length > 0) classFiles.set(name, files);
  }
  const labelled = mode === 'auto' ? classFiles.size > 0 : mode;

  const skipped: SkippedFile[] = [];
  const files: string[] = [];
  const fileLabels: number[] = [];
  let classNames: string[] | undefined;
  if (labelled) {
    classNames = [...classFiles.keys()];
    classNames.forEach((name, label) => {
      for (const f of classFiles.get(name)!) {
        files.push(f);
        fileLabels.push(label);
      }
    });
    for (const f of looseFiles) skipped.push({ file: f, reason: 'not inside a class sub-folder' });
  } else {
    files.push(...(await listImages(root, extensions)));
  }
  if (files.length === 0) {
    throw new Error(
      `loadImageFolder: no images (${extList.join(', ')}) found in ${root}` +
        (labelled && looseFiles.length > 0 ? ` sub-folders (${looseFiles.length} at its top level; pass labelsFromSubfolders: false)` : ''),
    );
  }

  const decoded = await mapPool(files, concurrency, async (file) => {
    try {
      return await readImage(file, { size: [h, w], channels, fit: options.fit, background: options.background });
    } catch (err) {
      // readImage's message starts with the path; the file is named once here already.
      let reason = err instanceof Error ? err.message : String(err);
      if (reason.startsWith(`${file}: `)) reason = reason.slice(file.length + 2);
      if (onError === 'skip') {
        skipped.push({ file, reason });
        return undefined;
      }
      throw new Error(`loadImageFolder: cannot read image ${file}: ${reason}`, { cause: err });
    }
  });

  const per = h * w * channels;
  const kept: number[] = [];
  decoded.forEach((d, i) => {
    if (d) kept.push(i);
  });
  if (kept.length === 0) {
    throw new Error(`loadImageFolder: none of the ${files.length} images in ${root} could be read (first: ${skipped[0]?.file}: ${skipped[0]?.reason})`);
  }
  const images = new Float32Array(kept.length * per);
  kept.forEach((i, j) => images.set(decoded[i]!.data, j * per));
  skipped.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return new ImageFolderDataset({
    images,
    shape: [h, w, channels],
    labels: labelled ? Int32Array.from(kept, (i) => fileLabels[i]) : undefined,
    classNames,
    root,
    files: kept.map((i) => files[i]),
    skipped,
  });
}

