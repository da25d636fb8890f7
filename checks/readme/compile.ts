import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { ReadmeBlock } from './blocks.js'

const here = dirname(fileURLToPath(import.meta.url))
/** The repository root. */
export const root = join(here, '..', '..')
/** Where blocks are written: inside `checks/`, so they resolve `@lifeline/*` as an app would. */
export const generatedRoot = join(here, '..', '.generated')

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

/** A compiler error, placed on the README line it comes from. */
export interface BlockError {
  /** `README.md:42` */
  where: string
  message: string
}

interface WrittenFile {
  block: ReadmeBlock
  /** Lines put in front of the block (its context). */
  offset: number
}

/**
 * Writes each README's blocks to a folder of their own under `generatedRoot/<into>` (emptied
 * first); returns where each file came from.
 */
export function writeBlocks(
  blocks: readonly ReadmeBlock[],
  into: string,
): Map<string, WrittenFile> {
  rmSync(join(generatedRoot, into), { recursive: true, force: true })
  const written = new Map<string, WrittenFile>()
  for (const block of blocks) {
    const path = blockPath(block, into)
    if (written.has(path)) {
      throw new Error(`${block.readme}:${block.line}: a second block named ${block.file}`)
    }
    const context =
      block.context === undefined
        ? ''
        : readFileSync(join(here, 'contexts', `${block.context}.ts`), 'utf8')
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, context + block.code)
    written.set(path, { block, offset: context === '' ? 0 : context.split('\n').length - 1 })
  }
  return written
}

/** The path a block is written to. */
export function blockPath(block: ReadmeBlock, into: string): string {
  const folder = block.readme.replace(/\/?README\.md$/, '') || 'root'
  return join(generatedRoot, into, folder, block.file)
}

/**
 * Type-checks every block in one compiler run, with the repository's strict settings (unused
 * names aside: an example may show a value it does not use), against the built packages.
 */
export async function compileBlocks(blocks: readonly ReadmeBlock[]): Promise<BlockError[]> {
  const into = join(generatedRoot, 'compile')
  const written = writeBlocks(blocks, 'compile')
  const config = join(into, 'tsconfig.json')
  writeFileSync(
    config,
    JSON.stringify({
      extends: relative(into, join(root, 'tsconfig.base.json')),
      compilerOptions: {
        noUnusedLocals: false,
        noUnusedParameters: false,
        // Every block is a module, even one without imports, so blocks never share names.
        moduleDetection: 'force',
        // ```tsx blocks (the React package's) use the automatic JSX runtime, as apps do.
        jsx: 'react-jsx',
      },
      include: ['**/*.ts', '**/*.tsx'],
    }),
  )
  const output = await promisify(execFile)(
    process.execPath,
    [tsc, '-p', config, '--pretty', 'false'],
    {
      cwd: into,
    },
  ).then(
    () => '',
    (error: { stdout?: string; message: string }) => error.stdout || error.message,
  )
  const errors: BlockError[] = []
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue
    const match = /^(.+?)\((\d+),(\d+)\): (.*)$/.exec(line)
    const file = match && written.get(join(into, match[1] ?? ''))
    if (!match || !file) {
      // A continuation line of the previous message, or an error outside the blocks.
      const last = errors.at(-1)
      if (last && /^\s/.test(line)) last.message += `\n${line}`
      else errors.push({ where: 'tsc', message: line })
      continue
    }
    const lineInBlock = Number(match[2]) - file.offset
    errors.push({
      where:
        lineInBlock >= 1
          ? `${file.block.readme}:${file.block.line + lineInBlock - 1}`
          : `${file.block.readme}:${file.block.line} (context ${file.block.context})`,
      message: match[4] ?? '',
    })
  }
  return errors
}
