"""contest.cli.blas_check: the note about OpenBLAS kernels weaker than the CPU."""
from contest.cli.blas_check import AVX512_FLAGS, weak_kernel_note

AVX2 = {"avx", "avx2", "fma"}


def test_haswell_kernels_on_an_avx512_cpu_get_a_note_naming_the_setting(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    note = weak_kernel_note(AVX2 | AVX512_FLAGS, ["Haswell"])
    assert "OPENBLAS_CORETYPE=Haswell" in note and "unset it" in note
    assert len(note.splitlines()) == 1


def test_a_misdetected_cpu_without_the_setting_is_told_what_to_set(monkeypatch):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    note = weak_kernel_note(AVX2 | AVX512_FLAGS, ["Zen"])
    assert "does not recognise" in note and "OPENBLAS_CORETYPE=SkylakeX" in note


def test_no_note_for_avx512_kernels_or_a_cpu_without_avx512():
    assert weak_kernel_note(AVX2 | AVX512_FLAGS, ["SkylakeX", "Cooperlake"]) is None
    assert weak_kernel_note(AVX2, ["Haswell"]) is None
    assert weak_kernel_note(AVX2 | AVX512_FLAGS, []) is None
