"""Model compression (curriculum C7): global magnitude pruning with fine-tuning, int8 quantisation, compressed
weight files, CPU latency, and the study that measures them side by side on a trained run."""
