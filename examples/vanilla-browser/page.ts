/**
 * The page: plain DOM, no framework, on the browser preset. The server bundles this file for
 * the browser when it starts (see `server.ts`).
 */
import { createClient } from '@lifeline/browser'
import type { ClientState } from '@lifeline/core'
import type { EchoSchema } from './schema.js'

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const form = element<HTMLFormElement>('say')
const input = element<HTMLInputElement>('text')
const messages = element<HTMLOListElement>('messages')
const state = element<HTMLSpanElement>('state')
const restart = element<HTMLButtonElement>('restart')
const problem = element<HTMLParagraphElement>('problem')

const client = createClient<EchoSchema>({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
})

function describe(current: ClientState): string {
  // The preset makes no attempt while the browser is offline: a link lost then waits for the
  // network, not for the delay its state still names.
  const waiting = current.status === 'reconnecting' || current.status === 'connecting'
  if (waiting && !navigator.onLine) return 'offline: waiting'
  switch (current.status) {
    case 'open':
      return current.resumed ? 'connected (session resumed)' : 'connected'
    case 'reconnecting':
      return `reconnecting in ${Math.round(current.delayMs)} ms (closed with ${current.closeCode})`
    case 'connecting':
      return `connecting (attempt ${current.attempt})`
    default:
      return current.status
  }
}

function show(current: ClientState): void {
  state.textContent = describe(current)
  state.dataset.status = current.status
}

show(client.state)
client.subscribe(() => show(client.state))
addEventListener('offline', () => show(client.state))

client.on('echo', ({ text, at }) => {
  const item = document.createElement('li')
  item.textContent = `${at} ${text}`
  messages.append(item)
})

form.addEventListener('submit', (event) => {
  event.preventDefault()
  if (input.value === '') return
  try {
    // Sent now, or kept and sent on the next connection: the server sees each message once.
    client.send('say', { text: input.value })
  } catch (error) {
    // Refused at the call and not kept: larger than the server takes (MESSAGE_TOO_LARGE), or
    // the outbox full while the server is away (QUEUE_FULL). Said, with the text left to edit.
    problem.textContent = `not sent: ${error instanceof Error ? error.message : String(error)}`
    return
  }
  problem.textContent = ''
  input.value = ''
})

restart.addEventListener('click', () => {
  // The server may be gone (stopped, or the network down) or refuse (503 while it closes): said,
  // never a rejection left unhandled.
  const notAsked = (why: string) => (problem.textContent = `restart not asked: ${why}`)
  fetch('/restart', { method: 'POST' }).then(
    (response) => {
      if (response.ok) problem.textContent = ''
      else notAsked(`HTTP ${response.status}`)
    },
    (error: unknown) => notAsked(error instanceof Error ? error.message : String(error)),
  )
})
