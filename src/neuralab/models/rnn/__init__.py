"""Recurrent networks: the from-scratch cells (`cells`), the truncated-BPTT state helpers (`state`) and the
registered recurrent models (curriculum S1-S4)."""
