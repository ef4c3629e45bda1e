"""The vector codec: stable window ids, little-endian float32 blobs, and what counts as a damaged stored vector."""

from __future__ import annotations

import numpy as np
import pytest

from qa.store.codec import (
    WINDOW_BITS,
    checked_vectors,
    decode_vectors,
    encode_vector,
    passage_of,
    valid_rows,
    vector_id,
)


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


# -- ids ----------------------------------------------------------------------------------------


def test_a_vector_id_packs_the_passage_above_the_window_bits() -> None:
    assert vector_id(0, 0) == 0
    assert vector_id(1, 0) == 1 << WINDOW_BITS == 65536
    assert vector_id(3, 7) == 3 * 65536 + 7


@pytest.mark.parametrize("window", [0, 1, (1 << WINDOW_BITS) - 1])
@pytest.mark.parametrize("passage", [0, 1, 12345, (1 << 46) - 1])
def test_passage_of_recovers_the_passage_of_every_window_id(passage: int, window: int) -> None:
    ids = np.array([vector_id(passage, window)], dtype=np.int64)
    assert passage_of(ids).tolist() == [passage]


def test_windows_of_one_passage_have_distinct_ascending_ids_and_share_their_passage() -> None:
    ids = np.array([vector_id(42, n) for n in range(5)], dtype=np.int64)
    assert np.all(np.diff(ids) == 1)
    assert passage_of(ids).tolist() == [42] * 5
    # The last window of one passage still sorts before the first of the next.
    assert vector_id(42, (1 << WINDOW_BITS) - 1) < vector_id(43, 0)


def test_passage_of_accepts_a_list_and_returns_int64() -> None:
    result = passage_of([vector_id(2, 1), vector_id(9, 0)])  # type: ignore[arg-type]
    assert result.dtype == np.int64 and result.tolist() == [2, 9]


# -- blobs --------------------------------------------------------------------------------------


def test_a_vector_is_encoded_as_little_endian_float32_bytes() -> None:
    blob = encode_vector(np.array([1.0, -2.5], dtype=np.float64))
    assert blob == np.array([1.0, -2.5], dtype="<f4").tobytes()
    assert blob == b"\x00\x00\x80\x3f\x00\x00\x20\xc0"


def test_a_big_endian_or_strided_vector_encodes_to_the_same_bytes() -> None:
    values = np.array([0.5, 0.25, -1.0], dtype="<f4")
    big = values.astype(">f4")
    strided = np.repeat(values, 2)[::2]
    assert not strided.flags.c_contiguous
    assert encode_vector(big) == encode_vector(strided) == values.tobytes()


def test_encoded_vectors_decode_to_the_same_float32_matrix() -> None:
    vectors = np.array([[0.1, 0.2, 0.3], [-1.0, 0.0, 7.5]], dtype=np.float32)
    decoded = decode_vectors([encode_vector(v) for v in vectors], 3)
    assert decoded.dtype == np.float32 and decoded.shape == (2, 3)
    np.testing.assert_array_equal(decoded, vectors)


def test_decoded_vectors_are_a_writable_copy_not_a_view_of_the_blobs() -> None:
    decoded = decode_vectors([encode_vector(np.ones(2))], 2)
    decoded[0, 0] = 5.0
    assert decoded[0, 0] == 5.0


def test_no_blobs_decode_to_an_empty_matrix_of_the_dimension() -> None:
    decoded = decode_vectors([], 4)
    assert decoded.shape == (0, 4) and decoded.dtype == np.float32


@pytest.mark.parametrize(
    "blobs",
    [
        [b"\x00" * 11],
        [b"\x00" * 16, b"\x00" * 12],
        # Right total length, wrong split: one blob too long, the other too short.
        [b"\x00" * 20, b"\x00" * 12],
        [b""],
    ],
    ids=["short", "one-short", "misaligned", "empty"],
)
def test_a_blob_of_the_wrong_length_is_a_value_error_naming_the_dimension(blobs: list[bytes]) -> None:
    with pytest.raises(ValueError, match="4 dimensions"):
        decode_vectors(blobs, 4)


# -- sound rows ---------------------------------------------------------------------------------


def test_valid_rows_accepts_unit_vectors_and_refuses_others_when_normalized() -> None:
    vectors = np.stack([unit(3, 4), np.array([3, 4], np.float32), np.zeros(2, np.float32), unit(1, 1) * 1.0005])
    assert valid_rows(vectors, normalized=True).tolist() == [True, False, False, True]


def test_the_unit_length_tolerance_is_one_thousandth() -> None:
    inside, outside = unit(1, 0) * 1.0009, unit(1, 0) * 1.0011
    assert valid_rows(np.stack([inside, outside]), normalized=True).tolist() == [True, False]


def test_valid_rows_refuses_non_finite_rows_whether_normalized_or_not() -> None:
    vectors = np.array([[np.nan, 0.0], [np.inf, 0.0], [-np.inf, 1.0], [0.6, 0.8]], dtype=np.float32)
    assert valid_rows(vectors, normalized=False).tolist() == [False, False, False, True]
    assert valid_rows(vectors, normalized=True).tolist() == [False, False, False, True]


def test_valid_rows_without_normalization_accepts_any_finite_length() -> None:
    vectors = np.array([[0.0, 0.0], [300.0, -2.0]], dtype=np.float32)
    assert valid_rows(vectors, normalized=False).tolist() == [True, True]


def test_huge_finite_values_overflow_quietly_to_an_unsound_row() -> None:
    vectors = np.array([[3e38, 3e38]], dtype=np.float32)
    with np.errstate(all="raise"):
        assert valid_rows(vectors, normalized=True).tolist() == [False]


def test_checked_vectors_decodes_sound_blobs_and_zeros_the_rest() -> None:
    good = unit(1, 2, 2)
    blobs: list[bytes | None] = [
        encode_vector(good),
        None,
        encode_vector(good)[:-4],
        encode_vector(good * 2),
        encode_vector(np.array([np.nan, 0, 0])),
        encode_vector(-good),
    ]
    matrix, sound = checked_vectors(blobs, 3)
    assert sound.tolist() == [True, False, False, False, False, True]
    assert matrix.shape == (6, 3) and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix[0], good)
    np.testing.assert_allclose(matrix[5], -good)
    assert not matrix[1:5].any()


def test_checked_vectors_treats_text_or_numbers_in_the_vector_column_as_unsound() -> None:
    blobs = ["\x00" * 8, 12, bytearray(encode_vector(unit(1, 0))), encode_vector(unit(0, 1))]
    matrix, sound = checked_vectors(blobs, 2)  # type: ignore[arg-type]
    assert sound.tolist() == [False, False, False, True]
    assert matrix[3].tolist() == [0.0, 1.0] and not matrix[:3].any()


def test_checked_vectors_without_normalization_keeps_any_finite_vector() -> None:
    blobs = [encode_vector(np.array([5.0, 0.0])), encode_vector(np.array([np.inf, 0.0]))]
    matrix, sound = checked_vectors(blobs, 2, normalized=False)
    assert sound.tolist() == [True, False]
    assert matrix.tolist() == [[5.0, 0.0], [0.0, 0.0]]


def test_checked_vectors_of_nothing_is_an_empty_matrix() -> None:
    matrix, sound = checked_vectors([], 8)
    assert matrix.shape == (0, 8) and sound.shape == (0,) and sound.dtype == bool


def test_checked_vectors_of_only_damaged_blobs_never_decodes() -> None:
    matrix, sound = checked_vectors([None, b"abc"], 2)
    assert not sound.any() and not matrix.any()
