import { readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'

/**
 * One ```ts (or ```tsx, with JSX) block of a README, as the compiler sees it (see
 * checks/README.md for the rules):
 * - a block whose first line is a comment naming a file (`// server.ts`) is that file, so
 *   blocks of one README can import each other (`import type { Chat } from './shared.js'`);
 *   any other block is a module of its own;
 * - an HTML comment `<!-- readme-context: name -->` on the line before the fence (blank lines
 *   between are allowed) names `checks/readme/contexts/<name>.ts`, whose text is put in front
 *   of the block: what a fragment takes from the reader's application (`getToken()`), or a
 *   check that an excerpt of a type matches the exported type.
 */
export interface ReadmeBlock {
  /** The README, relative to the repository root. */
  readme: string
  /** Line of the README on which the block's code starts (1-based). */
  line: number
  /** The file name the block is compiled as. */
  file: string
  /** The context named before the block, if any. */
  context: string | undefined
  code: string
}

const fence = /^```(\S*)\s*$/
const contextComment = /^<!--\s*readme-context:\s*([\w-]+)\s*-->$/
const fileComment = /^\/\/ ([\w.-]+\.tsx?)$/

/** The TypeScript blocks of one README, in order. */
export function extractBlocks(readme: string, markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n')
  const blocks: ReadmeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = fence.exec(lines[i] ?? '')
    if (open === null) continue
    const end = lines.findIndex((line, j) => j > i && /^```\s*$/.test(line))
    if (end === -1) throw new Error(`${readme}:${i + 1}: a code fence that is never closed`)
    const language = open[1]
    if (language === 'ts' || language === 'typescript' || language === 'tsx') {
      const code = lines.slice(i + 1, end)
      let before = i - 1
      while (before >= 0 && lines[before]?.trim() === '') before--
      const named = fileComment.exec(code[0] ?? '')
      blocks.push({
        readme,
        line: i + 2,
        file: named?.[1] ?? `line-${i + 2}.${language === 'tsx' ? 'tsx' : 'ts'}`,
        context: contextComment.exec(lines[before]?.trim() ?? '')?.[1],
        code: code.join('\n') + '\n',
      })
    }
    i = end
  }
  return blocks
}

/** Every README whose blocks are compiled: the root's, each package's and example's, bench's. */
export function readmePaths(root: string): string[] {
  const inFolders = (folder: string) =>
    existsSync(join(root, folder))
      ? readdirSync(join(root, folder), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => `${folder}/${entry.name}/README.md`)
      : []
  return [
    'README.md',
    ...inFolders('packages'),
    ...inFolders('examples'),
    'bench/README.md',
  ].filter((path) => existsSync(join(root, path)))
}
