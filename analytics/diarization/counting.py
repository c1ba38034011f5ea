"""How many speakers, and which windows are whose: the clustering diarizer's options and
its partition of window embeddings (speaker count 1-4 detected or forced).

The count grows while the partition stays plausible: each cluster holds enough speech
and is one coherent voice, centroids stay apart, the silhouette holds, and the two
closest clusters are two bumps along the line between them, not one voice cut in half
(Anderson-Darling normality test at the G-means critical value). See
:func:`cluster_embeddings`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusteringOptions:
    """Options of the clustering diarizer (thresholds tuned on data/diarization and the
    dev split of data/real; the defaults are those of the "fused" embedding, see
    :func:`options_for`)."""

    #: Speaker embeddings: "fused" (GE2E and ECAPA-TDNN concatenated), "ecapa" or "ge2e"
    #: (Resemblyzer); each has its own thresholds (``EMBEDDING_THRESHOLDS``).
    embedding: str = "fused"

    #: Embedding window and hop (seconds).
    window_s: float = 1.5
    hop_s: float = 0.75
    #: Speech stretches shorter than this are not embedded on their own (their frames
    #: take the scores of the nearest embedded frames).
    min_span_s: float = 0.25
    #: Windows at least this long take part in clustering; shorter ones are only scored.
    cluster_span_s: float = 0.75
    #: Speaker-count test (k grows while all three hold): each cluster has at least this
    #: much speech (windows x hop, seconds) ...
    min_speaker_s: float = 4.0
    #: ... no two speaker centroids are closer (cosine similarity) than this (two
    #: speakers; from three speakers on, the second value) ...
    max_centroid_similarity: float = 0.77
    max_centroid_similarity_more: float = 0.65
    #: ... the windows' mean silhouette (cosine) is at least this ...
    min_silhouette: float = 0.25
    #: ... and (from k=3) at most this much below the silhouette at k-1 ...
    max_silhouette_drop: float = 0.05
    #: ... every cluster is one voice: its windows' mean cosine similarity to its
    #: centroid is at least this (odd windows that only share being unlike the rest --
    #: noise, clicks -- do not make a speaker) ...
    min_cohesion: float = 0.6
    #: ... and the windows of the two closest clusters, projected on the line between
    #: their centroids, are not one normal bump: Anderson-Darling A*^2 at least this
    #: (1.8692 is the critical value at alpha = 0.0001, as in G-means; 0 turns it off:
    #: GE2E needs it, the fused embedding's similarity alone did as well on dev).
    min_bimodality: float = 0.0
    #: Force the speaker count (None: detect it within [min_speakers, max_speakers]).
    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int = 4
    #: k-means refinement rounds after clustering.
    refine_rounds: int = 5
    #: Agglomerative linkage of the first partition ("average" on cosine distance, or
    #: "ward" on the unit vectors).
    linkage: str = "average"
    kmeans: bool = True
    #: Runs shorter than this inside continuous speech are given to a neighbour.
    min_run_s: float = 0.4
    #: Pauses of one speaker up to this long (nobody else talking) belong to the turn.
    fill_gap_s: float = 1.0
    #: Overlapped speech: where one speaker hands over to another inside continuous
    #: speech, frames whose scores for both are within this margin belong to both turns
    #: (0 turns overlap detection off) ...
    overlap_margin: float = 0.05
    #: ... for at most this long on each side of the change.
    max_overlap_s: float = 1.0
    #: Speech regions shorter than ``window_s`` are widened by up to this much on each
    #: side (never past the middle of the pause to a neighbour) before they are cut into
    #: windows to embed: a short reply gets a window long enough to take part in
    #: clustering and the speaker count. Which frames are speech still follows the VAD's
    #: own regions. Off by default: with 0.4 (and ``fill_gap_s`` 1.5) the dev sets gained
    #: (tel-dev DER 0.117 -> 0.104, count 0.83 -> 0.96; ami-dev 0.315 -> 0.284; synthetic
    #: unchanged) but the test sets lost (tel-test 0.147 -> 0.159, ami-test 0.424 -> 0.467).
    embed_pad_s: float = 0.0
    #: Where speech is: "segmentation" (pyannote segmentation-3.0; Silero when its model
    #: is missing) or "silero" (Silero VAD alone).
    vad: str = "segmentation"
    #: Segmentation: a frame is speech when P(somebody speaks) exceeds this, pauses
    #: shorter than ``vad_min_silence_ms`` are closed; chunks of 10 s every ``seg_step_s``.
    seg_threshold: float = 0.4
    seg_step_s: float = 1.0
    #: Overlapped speech from the segmentation model: where P(two speak at once) exceeds
    #: this, the frame also goes to the speaker whose centroid it matches second best
    #: (0 turns it off).
    overlap_threshold: float = 0.5
    #: Silero VAD options for the speech regions.
    vad_threshold: float = 0.3
    vad_min_silence_ms: int = 150
    vad_speech_pad_ms: int = 30


#: Speaker-count thresholds per embedding, set on the dev split of data/real and the
#: synthetic sets (never the test split). ECAPA puts two real voices far apart (centroid
#: similarity 0.2-0.5 where GE2E gives 0.7-0.88) but two synthetic TTS voices close
#: (0.59-0.64), so it alone cannot keep both; "fused" weighs ECAPA by ``FUSED_ECAPA_WEIGHT``.
EMBEDDING_THRESHOLDS: dict[str, dict[str, float]] = {
    "fused": {},
    "ge2e": {
        "max_centroid_similarity": 0.9,
        "max_centroid_similarity_more": 0.83,
        "min_bimodality": 1.8692,
    },
    "ecapa": {
        "max_centroid_similarity": 0.55,
        "max_centroid_similarity_more": 0.4,
        "min_cohesion": 0.45,
        "min_bimodality": 0.0,
    },
}
#: Share of the fused cosine similarity that comes from ECAPA (the rest from GE2E).
FUSED_ECAPA_WEIGHT = 0.6


def options_for(embedding: str, **overrides: object) -> ClusteringOptions:
    """Clustering options with ``embedding``'s thresholds (ValueError naming the known
    ones for another name); ``overrides`` win."""
    if embedding not in EMBEDDING_THRESHOLDS:
        raise ValueError(
            f"unknown speaker embedding {embedding!r}: use one of {', '.join(EMBEDDING_THRESHOLDS)}"
        )
    fields = {**EMBEDDING_THRESHOLDS[embedding], **overrides}
    return ClusteringOptions(embedding=embedding, **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Clusters:
    """Clustering of embedded spans: a label per span and the speaker centroids."""

    labels: np.ndarray
    centroids: np.ndarray


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def _centroids(emb: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    return _normalize(np.stack([emb[labels == c].mean(axis=0) for c in range(k)]))


def silhouette(emb: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette (cosine distance) of a labelling with at least two clusters."""
    k = int(labels.max()) + 1
    dist = 1.0 - emb @ emb.T
    sizes = np.bincount(labels, minlength=k).astype(float)
    sums = np.stack([dist[:, labels == c].sum(axis=1) for c in range(k)], axis=1)
    own = sizes[labels] - 1
    a = np.where(own > 0, sums[np.arange(len(labels)), labels] / np.maximum(own, 1), 0.0)
    other = sums / np.maximum(sizes, 1)
    other[np.arange(len(labels)), labels] = np.inf
    b = other.min(axis=1)
    s = np.where(own > 0, (b - a) / np.maximum(np.maximum(a, b), 1e-9), 0.0)
    return float(s.mean())


#: The bimodality test looks at most this many windows (its threshold was set on calls of
#: 15-60 windows; on a long call any small departure from a normal bump would pass).
BIMODALITY_SAMPLE = 64


def anderson_darling(x: np.ndarray) -> float:
    """Anderson-Darling statistic A*^2 of ``x`` against a normal distribution with the
    sample's mean and deviation (Stephens' small-sample correction)."""
    from scipy.special import ndtr

    n = len(x)
    sd = float(np.std(x, ddof=1)) if n > 2 else 0.0
    if sd <= 0:
        return 0.0
    cdf = np.clip(ndtr((np.sort(x) - x.mean()) / sd), 1e-12, 1 - 1e-12)
    i = np.arange(1, n + 1)
    a2 = -n - float(np.sum((2 * i - 1) * (np.log(cdf) + np.log(1 - cdf[::-1])))) / n
    return a2 * (1 + 4 / n - 25 / n**2)


def bimodality(emb: np.ndarray, c: Clusters) -> float:
    """How clearly the two most similar clusters are two groups, not one split in two:
    A*^2 of their windows projected on the line between the two centroids (a single
    voice split by noise projects to one normal bump; two voices to two)."""
    k = len(c.centroids)
    sims = c.centroids @ c.centroids.T
    sims[np.eye(k, dtype=bool)] = -np.inf
    a, b = np.unravel_index(int(np.argmax(sims)), sims.shape)
    members = emb[(c.labels == a) | (c.labels == b)]
    axis = c.centroids[a] - c.centroids[b]
    if len(members) < 8 or not np.any(axis):
        return 0.0
    if len(members) > BIMODALITY_SAMPLE:  # evenly over the call: the test's power stays
        members = members[np.linspace(0, len(members) - 1, BIMODALITY_SAMPLE).astype(int)]
    return anderson_darling(members @ (axis / np.linalg.norm(axis)))


def partition(
    emb: np.ndarray, z: np.ndarray, k: int, rounds: int, min_size: int = 1
) -> Clusters | None:
    """``k`` speaker clusters from the average-linkage tree ``z``, refined with spherical
    k-means (each embedding to its nearest centroid).

    A cut of the tree at ``k`` often splits off a few outlying windows (a cough, a
    laugh, a noisy stretch) before it separates a quieter second voice. So the tree is
    cut at ``k``, ``k+1``, ... until exactly ``k`` clusters hold at least ``min_size``
    windows; the smaller ones are given to the nearest of those. None when no cut has
    ``k`` clusters that large (or the refinement empties one)."""
    from scipy.cluster.hierarchy import fcluster

    labels = np.zeros(len(emb), dtype=np.int64)
    big = np.zeros(0, dtype=np.int64)
    for cut in range(k, min(k + 8, len(emb)) + 1):
        labels = np.unique(fcluster(z, cut, criterion="maxclust"), return_inverse=True)[1]
        big = np.flatnonzero(np.bincount(labels) >= min_size)
        if len(big) >= k:
            break
    if len(big) != k:
        return None
    cents = _centroids(emb, labels, int(labels.max()) + 1)[big]
    labels = np.argmax(emb @ cents.T, axis=1)
    for _ in range(rounds):
        if len(np.unique(labels)) < k:
            return None
        cents = _centroids(emb, labels, k)
        new = np.argmax(emb @ cents.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    if len(np.unique(labels)) < k:
        return None
    return Clusters(labels, _centroids(emb, labels, k))


def cohesion(emb: np.ndarray, c: Clusters) -> float:
    """The least coherent cluster's mean cosine similarity of its windows to its
    centroid (one voice: high; odd windows grouped only by being unlike the rest: low)."""
    k = len(c.centroids)
    return min(float((emb[c.labels == i] @ c.centroids[i]).mean()) for i in range(k))


def kmeans_partition(
    emb: np.ndarray,
    k: int,
    rounds: int,
    min_size: int = 1,
    min_cohesion: float = 0.0,
    restarts: int = 10,
) -> Clusters | None:
    """``k`` clusters by spherical k-means from k-means++ starts (seeded: the same input
    gives the same clusters); of the restarts whose clusters all hold ``min_size``
    windows and are coherent (``min_cohesion``), the one with the highest silhouette.
    None when no restart qualifies."""
    rng = np.random.default_rng(0)
    best: Clusters | None = None
    best_sil = -np.inf
    n = len(emb)
    for _ in range(restarts):
        idx = [int(rng.integers(n))]
        for _ in range(1, k):
            d = np.maximum(0.0, 1.0 - np.max(emb @ emb[idx].T, axis=1))
            if d.sum() <= 0:
                break
            idx.append(int(rng.choice(n, p=d / d.sum())))
        if len(idx) < k:
            continue
        cents = emb[idx]
        labels = np.argmax(emb @ cents.T, axis=1)
        for _ in range(max(rounds, 10)):
            if len(np.unique(labels)) < k:
                break
            cents = _centroids(emb, labels, k)
            new = np.argmax(emb @ cents.T, axis=1)
            if np.array_equal(new, labels):
                break
            labels = new
        sizes = np.bincount(labels, minlength=k)
        if sizes.min() < max(min_size, 1):
            continue
        found = Clusters(labels, _centroids(emb, labels, k))
        sil = silhouette(emb, labels)
        if sil > best_sil and cohesion(emb, found) >= min_cohesion:
            best, best_sil = found, sil
    return best


def best_partition(
    emb: np.ndarray, z: np.ndarray, k: int, opts: ClusteringOptions, min_size: int
) -> Clusters | None:
    """The better (by silhouette) of the tree cut and the k-means partition."""
    found = [
        c
        for c in (
            partition(emb, z, k, opts.refine_rounds, min_size),
            kmeans_partition(emb, k, opts.refine_rounds, min_size, opts.min_cohesion)
            if opts.kmeans
            else None,
        )
        if c is not None
    ]
    if not found:
        return None
    return max(found, key=lambda c: silhouette(emb, c.labels))


def cluster_embeddings(emb: np.ndarray, opts: ClusteringOptions) -> Clusters:
    """Cluster L2-normalised window embeddings (rows); finds the speaker count.

    k grows from 1 while a k-cluster partition (the better of the tree cut and k-means,
    :func:`best_partition`) is plausible: every cluster holds at least
    ``min_speaker_s`` of speech (windows x hop; smaller outlying clusters are folded
    into the nearest, see :func:`partition`) and is coherent (``min_cohesion``), no two
    centroids are more similar than ``max_centroid_similarity`` (``_more`` from k=3),
    the silhouette is at least ``min_silhouette`` and the two closest clusters are two
    bumps (``min_bimodality``).
    From k=3 the silhouette may also drop by at most ``max_silhouette_drop`` (a real
    extra speaker keeps clusters as well separated as before; splitting one voice does
    not). A forced count (``num_speakers``) skips the test; ``min_speakers`` are always
    kept.
    """
    from scipy.cluster.hierarchy import linkage

    n = len(emb)
    one = Clusters(np.zeros(n, dtype=np.int64), _centroids(emb, np.zeros(n, dtype=np.int64), 1))
    if n < 2:
        return one
    if opts.linkage == "ward":
        z = linkage(emb, method="ward")
    else:
        z = linkage(emb, method="average", metric="cosine")
    min_size = max(1, math.ceil(opts.min_speaker_s / opts.hop_s - 1e-9))
    if opts.num_speakers:
        k = min(opts.num_speakers, n)
        forced = best_partition(emb, z, k, opts, min_size)
        return forced or partition(emb, z, k, opts.refine_rounds) or one
    best, previous = one, None
    for k in range(2, min(opts.max_speakers, n) + 1):
        c = best_partition(emb, z, k, opts, min_size)
        if c is None:
            if k > opts.min_speakers:
                break
            c = partition(emb, z, k, opts.refine_rounds)
            if c is None:
                break
        sims = c.centroids @ c.centroids.T
        closest = float(np.max(sims[~np.eye(k, dtype=bool)]))
        sil = silhouette(emb, c.labels)
        bimodal = bimodality(emb, c)
        coherent = cohesion(emb, c)
        plausible = (
            coherent >= opts.min_cohesion
            and closest
            <= (opts.max_centroid_similarity if k == 2 else opts.max_centroid_similarity_more)
            and sil >= opts.min_silhouette
            and bimodal >= opts.min_bimodality
            and (previous is None or sil >= previous - opts.max_silhouette_drop)
        )
        log.debug(
            "k=%d: sizes %s, cohesion %.3f, closest centroids %.3f, silhouette %.3f, "
            "bimodality %.2f -> %s",
            k,
            np.bincount(c.labels, minlength=k).tolist(),
            coherent,
            closest,
            sil,
            bimodal,
            "keep" if plausible else "stop",
        )
        if not plausible and k > opts.min_speakers:
            break
        best, previous = c, sil
    return best
