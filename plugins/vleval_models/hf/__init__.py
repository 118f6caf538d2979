"""The ``hf`` model plugin: local transformers checkpoints with MoE routing capture and expert scaling."""
