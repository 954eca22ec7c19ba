"""CTR model: training, evaluation, the versioned bundle and the Beam model handler."""
