import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** Characters of the random part: 128 bits in base64url. */
const secretLength = 22

/**
 * A new session id: 128 random bits, the secret that resumes the session. With an `owner` (the
 * `sessionOwner` option) a tag follows, a digest of the secret and the owner, so that a resume
 * can be checked against whoever presents the id without a store lookup: a client that
 * authenticates as another owner cannot make the tag match, since the server computes it from
 * the owner `authenticate` gave, not from anything the client sends. No server secret is needed.
 */
export function newSessionId(owner: string | undefined): string {
  const secret = randomBytes(16).toString('base64url')
  return owner === undefined ? secret : `${secret}.${ownerTag(secret, owner)}`
}

/** A new `peer.id`: 72 random bits, public, only needs to be unique. */
export function newPeerId(): string {
  return randomBytes(9).toString('base64url')
}

/** Whether session id `sid` was made for `owner` (see `newSessionId`). */
export function ownedBy(sid: string, owner: string): boolean {
  if (sid.length <= secretLength || sid.charCodeAt(secretLength) !== 0x2e /* . */) return false
  const tag = Buffer.from(sid.slice(secretLength + 1))
  const expected = Buffer.from(ownerTag(sid.slice(0, secretLength), owner))
  return tag.length === expected.length && timingSafeEqual(tag, expected)
}

/**
 * 128 bits of SHA-256 over the secret (of fixed length, so no separator is needed) and owner.
 * The owner goes in as its UTF-16 code units: in UTF-8 each lone surrogate becomes U+FFFD, and
 * owners that differ only there would share their tags, and so each other's sessions.
 */
function ownerTag(secret: string, owner: string): string {
  return createHash('sha256')
    .update(secret)
    .update(owner, 'utf16le')
    .digest()
    .subarray(0, 16)
    .toString('base64url')
}
