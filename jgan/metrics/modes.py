"""Mode-collapse metrics for 2-D mixtures (the PacGAN protocol)."""
import numpy as np



def mode_stats(samples_Nx2, centres_Kx2, std: float) -> dict:
    """Modes covered, share of high-quality samples and reverse KL to the uniform over modes.

    A sample is high quality if it lies within 3 std of its nearest centre; a mode is covered if
    at least one high-quality sample is nearest to it. Reverse KL is KL(p ‖ uniform), p being
    the histogram of high-quality samples over modes (empty bins contribute 0; no high-quality
    sample at all gives log K, the value for a point mass).
    """
    samples, centres = np.asarray(samples_Nx2, np.float64), np.asarray(centres_Kx2, np.float64)
    distances = np.linalg.norm(samples[:, None] - centres[None], axis=-1)
    nearest, high_quality = distances.argmin(axis=1), distances.min(axis=1) < 3 * std
    counts = np.bincount(nearest[high_quality], minlength=len(centres))
    if counts.sum() == 0:
        reverse_kl = float(np.log(len(centres)))
    else:
        p = counts[counts > 0] / counts.sum()
        reverse_kl = float(np.sum(p * np.log(p * len(centres))))
    return {"modes": int((counts > 0).sum()), "high_quality": float(high_quality.mean()),
            "reverse_kl": reverse_kl}


def modes(fake, real=None, *, centres, std) -> dict:
    return mode_stats(fake, centres, std)
