"""The two decorators every plant kernel uses, so their options live in one place.

``_nrt=False`` turns off numba's reference counting: kernels receive preallocated arrays and never
allocate, and without it every call into a kernel pays an atomic incref/decref per array in its
NamedTuple arguments (measured: ~130 ns for a four-table call, more than the physics). The
consequence: code under these decorators must not create arrays.

``error_model="numpy"``: a float division by zero gives inf/nan as IEEE says instead of a
Python ZeroDivisionError check before every division, which kept column loops from
vectorising. No ``fastmath``: reassociation would change results with the compiler version and
``nnan``/``ninf`` would delete the solver's finiteness checks; FMA contraction alone
(``contract``) is exact-or-better per operation and deterministic for a given build.
"""

from __future__ import annotations

from numba import njit

kernel = njit(cache=True, _nrt=False, error_model="numpy", fastmath={"contract"})
"""A compiled plant kernel (cached on disk, no reference counting)."""

inline_kernel = njit(cache=True, _nrt=False, inline="always", error_model="numpy",
                     fastmath={"contract"})
"""A small helper inlined into its callers at numba IR level (branch residuals, RNG)."""
