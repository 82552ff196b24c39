// BLAKE3: the native and the WASM path give the same digests, and match known answers.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js'
import { blake3, blake3Impl, createWasmBlake3 } from '../../../src/crypto/index.ts'
import { bytesToHex } from '../../../src/types/index.ts'

const KNOWN: [string, string][] = [
  ['', 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'],
  ['abc', '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85'],
]

describe('BLAKE3', async () => {
  const wasm = await createWasmBlake3()

  it('the native path is in use on this machine', () => {
    assert.equal(blake3Impl().kind, 'native')
  })

  for (const [input, digest] of KNOWN) {
    it(`known answer for "${input}" (native and WASM)`, () => {
      const b = new TextEncoder().encode(input)
      assert.equal(bytesToHex(blake3(b)), digest)
      assert.equal(bytesToHex(wasm.hash(b)), digest)
    })
  }

  it('native = WASM = @noble/hashes across lengths around the 1 KiB chunk and 64-byte block boundaries', () => {
    const lengths = [1, 63, 64, 65, 1023, 1024, 1025, 2048, 3072, 4097, 65536, 1024 * 1024 + 1]
    for (const n of lengths) {
      const data = Uint8Array.from({ length: n }, (_, i) => i % 251)
      const a = bytesToHex(blake3(data))
      assert.equal(bytesToHex(wasm.hash(data)), a, `length ${n}: wasm`)
      if (n <= 65536) assert.equal(bytesToHex(nobleBlake3(data)), a, `length ${n}: noble`)
    }
  })

  it('incremental hashers agree with one-shot hashing (both paths), on views too', () => {
    const data = Uint8Array.from({ length: 10000 }, (_, i) => (i * 7) % 256)
    const whole = bytesToHex(blake3(data))
    for (const impl of [blake3Impl(), wasm]) {
      const h = impl.createHasher()
      h.update(data.subarray(0, 1234)).update(data.subarray(1234, 5000)).update(data.subarray(5000))
      assert.equal(bytesToHex(h.digest()), whole, impl.kind)
    }
  })
})
