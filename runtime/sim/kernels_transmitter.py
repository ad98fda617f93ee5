"""Transmitter kernels: sample a process value, first-order lag, seeded noise, range clamp.

Noise is counter-based: the noise of instrument ``x`` at step ``k`` is a hash of (its key
``rng[x]``, seeded per instrument, and ``k``), so a run is reproducible from its seed, a
snapshot/restore resumes the same noise sequence (the step counter is state), and the per-step
loop has no serial dependency on a generator's state, so it vectorises.
"""

from __future__ import annotations

from numba import int32, uint64

from runtime.sim.jit import inline_kernel

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_U16 = 1.0 / 65536.0
_SQRT3 = 1.7320508075688772
KW_PER_W = 0.001
"""kW per W, as a multiplier (the same scale as the motor's ``power_kw`` point)."""


@inline_kernel
def noise_normal(key, step):
    """Approximately standard normal noise for (key, step): splitmix64's finaliser over
    ``key + step * golden``, its 64 bits read as four 16-bit uniforms, Irwin-Hall summed and
    scaled to unit variance (mean 0, variance 1 - 2^-32; tails cut at +-3.46).

    Instrument noise needs the right size and no bias, not Gaussian tails; one hash per
    instrument and step replaces four generator steps.
    """
    z = key + uint64(step) * uint64(_GOLDEN)
    z = (z ^ (z >> uint64(30))) * uint64(_MIX1)
    z = (z ^ (z >> uint64(27))) * uint64(_MIX2)
    z = z ^ (z >> uint64(31))
    m = uint64(0xFFFF)
    acc = (z & m) + ((z >> uint64(16)) & m) + ((z >> uint64(32)) & m) + (z >> uint64(48))
    # acc < 2^18: through int32, whose conversion to float AVX2 has (uint64's it has not).
    return (float(int32(acc)) * _U16 + 2.0 * _U16 - 2.0) * _SQRT3


@inline_kernel
def source_value(kind, idx, tm, ts, jm, js, pm, ps, ms, vs, pipes, xs):
    """A process value in the unit its point name carries (m, m3, m3/h, kPa, rpm, %, degC, kW)."""
    if kind == 0:
        return ts.level_m[idx]
    if kind == 1:
        return ts.volume_m3[idx]
    if kind == 2:
        return ts.overflow_m3_s[idx] * 3600.0
    if kind == 3:
        return js.pressure_kpa[idx]
    if kind == 4:
        return ms.speed_rpm[pm.motor[idx]]
    if kind == 5:
        return ps.flow_m3_s[idx] * 3600.0
    if kind == 6:
        return vs.position_pct[idx]
    if kind == 7:
        return vs.flow_m3_s[idx] * 3600.0
    if kind == 8:
        return pipes.flow_m3_s[idx] * 3600.0
    if kind == 9:
        return ms.temperature_degc[idx]
    if kind == 10:
        return ms.power_w[idx] * KW_PER_W
    if kind == 11:
        return xs.output[idx]
    return 0.0


@inline_kernel
def _gather(out, idx, start: int, stop: int, column, scale: float) -> None:
    """``out[x] = column[idx[x]] * scale`` for rows ``start:stop``, over 1-D views of those
    rows so the compiler sees their bounds (a constant ``scale`` of 1.0 folds away)."""
    i, o = idx[start:stop], out[start:stop]
    for x in range(o.shape[0]):
        o[x] = column[i[x]] * scale


@inline_kernel
def transmitter_sample(xm, xs, tm, ts, jm, js, pm, ps, ms, vs, pipes) -> None:
    """Sample every instrument's true value into ``xs.sample``, one source kind at a time.

    The compiled model orders transmitter rows by source kind (``by_kind_start``), so each
    kind is a plain gather into contiguous rows with no per-instrument switch. An instrument
    that measures another one reads that one's output from the previous step. The same values
    as ``source_value`` gives, kind by kind.
    """
    st = xm.by_kind_start
    idx = xm.source_index
    out = xs.sample
    _gather(out, idx, st[0], st[1], ts.level_m, 1.0)
    _gather(out, idx, st[1], st[2], ts.volume_m3, 1.0)
    _gather(out, idx, st[2], st[3], ts.overflow_m3_s, 3600.0)
    _gather(out, idx, st[3], st[4], js.pressure_kpa, 1.0)
    # A pump's speed is its motor's, and pump i's motor is motor row i (build checks it).
    _gather(out, idx, st[4], st[5], ms.speed_rpm, 1.0)
    _gather(out, idx, st[5], st[6], ps.flow_m3_s, 3600.0)
    _gather(out, idx, st[6], st[7], vs.position_pct, 1.0)
    _gather(out, idx, st[7], st[8], vs.flow_m3_s, 3600.0)
    _gather(out, idx, st[8], st[9], pipes.flow_m3_s, 3600.0)
    _gather(out, idx, st[9], st[10], ms.temperature_degc, 1.0)
    _gather(out, idx, st[10], st[11], ms.power_w, KW_PER_W)
    _gather(out, idx, st[11], st[12], xs.output, 1.0)


@inline_kernel
def transmitter_update(xm, xs, step, dt_s: float) -> None:
    """Lag, drift, noise and clamp of every instrument from its sample: one branch-free pass
    over contiguous columns (frozen ones hold their output; drift builds up regardless)."""
    for x in range(xm.source_kind.shape[0]):
        filtered = xs.filtered[x] + (xs.sample[x] - xs.filtered[x]) * xm.lag_alpha[x]
        xs.filtered[x] = filtered
        drift = xs.drift[x] + xs.drift_per_s[x] * dt_s
        xs.drift[x] = drift
        noise = xm.noise_std[x] * noise_normal(xs.rng[x], step)
        out = min(max(filtered + drift + noise, xm.range_lo[x]), xm.range_hi[x])
        xs.output[x] = xs.output[x] if xs.frozen[x] else out


@inline_kernel
def transmitter_step(xm, xs, tm, ts, jm, js, pm, ps, ms, vs, pipes, step, dt_s: float) -> None:
    """Update every instrument's reading at step ``step`` (sample, then lag/noise/clamp)."""
    transmitter_sample(xm, xs, tm, ts, jm, js, pm, ps, ms, vs, pipes)
    transmitter_update(xm, xs, step, dt_s)
