/**
 * Messages of the three sizes the codec benchmark reports: shaped like Lifeline envelopes
 * (`{ t, s, d }`) with realistic payloads, generated from a fixed seed so every run and every
 * machine measures the same bytes.
 */

export interface Fixture {
  readonly name: string
  readonly value: unknown
}

/** Small deterministic PRNG (mulberry32): benchmarks must not depend on Math.random. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const words = [
  'ship',
  'deploy',
  'review',
  'the',
  'build',
  'is',
  'green',
  'again',
  'lunch',
  'at',
  'noon',
  'merge',
  'after',
  'tests',
  'pass',
  'ok',
  'thanks',
  'will',
  'check',
  'tonight',
  'café',
  'naïve',
]

function sentence(random: () => number, count: number): string {
  const parts: string[] = []
  for (let i = 0; i < count; i++) parts.push(words[Math.floor(random() * words.length)] ?? 'ok')
  return parts.join(' ')
}

/** ~100 B: one chat message. */
function small(): unknown {
  return {
    t: 'chat.message',
    s: 42,
    d: { room: 'general', user: 'u_1842', text: 'ship it!', ts: 1_732_500_000_000 },
  }
}

/** ~1 KB: a presence snapshot of a small room. */
function medium(): unknown {
  const random = createRandom(1)
  const members = []
  for (let i = 0; i < 10; i++) {
    members.push({
      id: `u_${1000 + i}`,
      name: sentence(random, 2),
      status: random() < 0.5 ? 'online' : 'away',
      lastSeen: 1_732_500_000_000 + Math.floor(random() * 1e6),
      typing: random() < 0.2,
    })
  }
  return { t: 'presence.sync', s: 1234, d: { room: 'general', version: 7, members } }
}

/** ~64 KB: a page of chat history. */
function large(): unknown {
  const random = createRandom(2)
  const messages = []
  for (let i = 0; i < 335; i++) {
    messages.push({
      id: `m_${100_000 + i}`,
      user: { id: `u_${1000 + Math.floor(random() * 50)}`, name: sentence(random, 2) },
      text: sentence(random, 4 + Math.floor(random() * 8)),
      ts: 1_732_500_000_000 + i * 1000,
      edited: random() < 0.1,
      reactions: { '👍': Math.floor(random() * 5), '🎉': Math.floor(random() * 3) },
      score: Math.round(random() * 1e4) / 100,
    })
  }
  return { t: 'history.page', s: 99, d: { room: 'general', cursor: 'c_8812', messages } }
}

export const fixtures: readonly Fixture[] = [
  { name: '~100 B', value: small() },
  { name: '~1 KB', value: medium() },
  { name: '~64 KB', value: large() },
]
