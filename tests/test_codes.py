import numpy as np
import pytest

from hashzoo import codes


def test_binarize_maps_zero_to_plus_one():
    out = codes.binarize(np.array([[0.0, -0.0, -1e-9, 3.0]]))
    np.testing.assert_array_equal(out, [[1, 1, -1, 1]])
    assert out.dtype == np.int8


def test_pack_is_msb_first_and_pads_with_zero_bits():
    c = np.array([[1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1]], np.int8)  # 12 bits
    packed = codes.pack_codes(c)
    np.testing.assert_array_equal(packed, [[0b10000000, 0b00010000]])
    np.testing.assert_array_equal(codes.unpack_codes(packed, 12), c)


def test_pack_roundtrip_random():
    rng = np.random.default_rng(0)
    for bits in (1, 7, 8, 12, 48, 64, 65):
        c = np.where(rng.random((9, bits)) < 0.5, 1, -1).astype(np.int8)
        np.testing.assert_array_equal(codes.unpack_codes(codes.pack_codes(c), bits), c)


def test_hamming_distance_is_preserved_by_packing():
    rng = np.random.default_rng(1)
    a, b = (np.where(rng.random((5, 12)) < 0.5, 1, -1).astype(np.int8) for _ in range(2))
    expected = (12 - (a.astype(int) * b).sum(1)) // 2
    pa, pb = codes.pack_codes(a), codes.pack_codes(b)
    got = np.unpackbits(pa ^ pb, axis=1).sum(1)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([[1, 0, -1]]), r"only \+1 and -1, found \[0\]"),
        (np.array([1, -1]), r"shape \[N, bits\]"),
        (np.array([["a"]]), "numeric"),
    ],
)
def test_check_codes_rejects_bad_values(bad, match):
    with pytest.raises(ValueError, match=match):
        codes.pack_codes(bad)


def test_check_packed_rejects_wrong_width_dtype_and_padding():
    with pytest.raises(ValueError, match=r"shape \[N, 2\], got \(3, 1\)"):
        codes.check_packed(np.zeros((3, 1), np.uint8), 12)
    with pytest.raises(ValueError, match="uint8"):
        codes.check_packed(np.zeros((3, 2), np.int32), 12)
    with pytest.raises(ValueError, match="padding bit"):
        codes.check_packed(np.array([[0, 1]], np.uint8), 12)


@pytest.mark.parametrize("bits", [0, -3, 2.5, "8", True])
def test_bad_bits(bits):
    with pytest.raises(ValueError, match="bits"):
        codes.num_bytes(bits)


def test_as_packed_accepts_both_forms():
    c = np.array([[1, -1, 1, 1, -1, -1, 1, -1, 1]], np.int8)
    packed, bits = codes.as_packed(c)
    assert bits == 9
    again, bits2 = codes.as_packed(packed, bits=9)
    np.testing.assert_array_equal(again, packed)
    assert bits2 == 9
    with pytest.raises(ValueError, match="has 9 bits but bits=8"):
        codes.as_packed(c, bits=8)
