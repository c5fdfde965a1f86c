import { createHash, createSign, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto'
import { encode } from 'cborg'

const b64 = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64url')
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest()

interface Credential {
  id: Buffer
  key: KeyObject
  rpId: string
  userHandle: string
  counter: number
}

/**
 * A software WebAuthn authenticator (ES256, "none" attestation) for API tests: it builds the
 * bytes a real one would, so the server's full verification runs. Browser tests use Chromium's
 * own virtual authenticator instead.
 */
export class SoftAuthenticator {
  readonly credentials: Credential[] = []
  readonly origin: string

  constructor(origin: string) {
    this.origin = origin
  }

  // biome-ignore lint/suspicious/noExplicitAny: the options JSON as the server sent it
  create(options: any) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const jwk = publicKey.export({ format: 'jwk' })
    const id = randomBytes(16)
    const rpId: string = options.rp.id
    const cose = encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    )
    const idLen = Buffer.alloc(2)
    idLen.writeUInt16BE(id.length)
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([0x45]),
      Buffer.alloc(4),
      Buffer.alloc(16),
      idLen,
      id,
      cose,
    ])
    const clientData = JSON.stringify({
      type: 'webauthn.create',
      challenge: options.challenge,
      origin: this.origin,
      crossOrigin: false,
    })
    this.credentials.push({ id, key: privateKey, rpId, userHandle: options.user.id, counter: 0 })
    return {
      id: b64(id),
      rawId: b64(id),
      type: 'public-key',
      response: {
        clientDataJSON: b64(Buffer.from(clientData)),
        attestationObject: b64(encode({ fmt: 'none', attStmt: {}, authData })),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    }
  }

  /** Signs in with the credential at `index` (default: the first). */
  // biome-ignore lint/suspicious/noExplicitAny: the options JSON as the server sent it
  get(options: any, index = 0, overrides: { origin?: string } = {}) {
    const c = this.credentials[index]
    if (!c) throw new Error('no credential')
    c.counter++
    const counter = Buffer.alloc(4)
    counter.writeUInt32BE(c.counter)
    const authData = Buffer.concat([sha256(c.rpId), Buffer.from([0x05]), counter])
    const clientData = Buffer.from(
      JSON.stringify({
        type: 'webauthn.get',
        challenge: options.challenge,
        origin: overrides.origin ?? this.origin,
        crossOrigin: false,
      }),
    )
    const signature = createSign('SHA256')
      .update(Buffer.concat([authData, sha256(clientData)]))
      .sign(c.key)
    return {
      id: b64(c.id),
      rawId: b64(c.id),
      type: 'public-key',
      response: {
        clientDataJSON: b64(clientData),
        authenticatorData: b64(authData),
        signature: b64(signature),
        userHandle: c.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    }
  }
}
