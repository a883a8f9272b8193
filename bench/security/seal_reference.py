#!/usr/bin/env python3
"""Microsoft SEAL reference timings for bench_security, measured in the same run.

Uses the SEAL binding shipped inside TenSEAL (`tenseal.sealapi`, PyPI) on one thread with
the same ring degree and data primes as our parameter sets; SEAL always uses exactly one
special prime (the last one in its coefficient modulus). Prints one JSON object:
{"version": ..., "results": {"<op>@<N>": median_ms, ...}}.
Per-call Python overhead is ~1-2 us, negligible next to the timed operations.
"""
import json
import statistics
import sys
import time

import tenseal
import tenseal.sealapi as seal

# N -> (data prime bits, special prime bits); must match bench_security.cpp.
SETS = {
    8192: ([44, 43, 43, 43], 45),
    16384: ([46] + [42] * 7, 60),
    32768: ([50] + [46] * 14, 60),
}


def median_ms(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench(n, reps):
    data, special = SETS[n]
    parms = seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS)
    parms.set_poly_modulus_degree(n)
    parms.set_coeff_modulus(seal.CoeffModulus.Create(n, data + [special]))
    ctx = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)
    kg = seal.KeyGenerator(ctx)
    sk = kg.secret_key()
    pk = seal.PublicKey()
    kg.create_public_key(pk)
    rk = seal.RelinKeys()
    kg.create_relin_keys(rk)
    gk = seal.GaloisKeys()
    kg.create_galois_keys(gk)  # all power-of-two steps (the list overloads do not bind reliably)
    enc = seal.CKKSEncoder(ctx)
    encryptor = seal.Encryptor(ctx, pk)
    ev = seal.Evaluator(ctx)
    scale = 2.0 ** data[-1]
    vals = [0.5 + 0.001 * i for i in range(n // 2)]
    pt = seal.Plaintext()
    enc.encode(vals, scale, pt)
    ct1, ct2 = seal.Ciphertext(), seal.Ciphertext()
    encryptor.encrypt(pt, ct1)
    encryptor.encrypt(pt, ct2)
    out = {}
    out["encode"] = median_ms(lambda: enc.encode(vals, scale, seal.Plaintext()), reps)
    out["encrypt"] = median_ms(lambda: encryptor.encrypt(pt, seal.Ciphertext()), reps)
    dst = seal.Ciphertext()
    out["add"] = median_ms(lambda: ev.add(ct1, ct2, dst), reps * 4)
    out["multiply"] = median_ms(lambda: ev.multiply(ct1, ct2, dst), reps * 2)
    prod = seal.Ciphertext()
    ev.multiply(ct1, ct2, prod)
    out["relinearize"] = median_ms(lambda: ev.relinearize(prod, rk, seal.Ciphertext()), reps)
    ev.relinearize_inplace(prod, rk)
    out["rescale"] = median_ms(lambda: ev.rescale_to_next(prod, seal.Ciphertext()), reps)
    out["rotate"] = median_ms(lambda: ev.rotate_vector(ct1, 1, gk, seal.Ciphertext()), reps)
    return out


def main():
    ns = [int(a) for a in sys.argv[1:] if a.isdigit()] or sorted(SETS)
    reps = 11
    res = {}
    for n in ns:
        for op, ms in bench(n, reps).items():
            res[f"{op}@{n}"] = ms
    print(json.dumps({"version": "SEAL (via TenSEAL " + tenseal.__version__ + ")", "results": res}))


if __name__ == "__main__":
    main()
