"""Components, streams, modalities: the names every stage uses for the parts of a model.

========================  ==========================================================================
name                      meaning
========================  ==========================================================================
``speech_encoder``        the encoder of speech input (its adaptor included)
``text_encoder``          the encoder of text input
``text_decoder``          the decoder that writes text (its cross-attention K/V included)
========================  ==========================================================================

A neuron set may also be drawn from a sub-part of the decoder (:data:`SET_COMPONENTS`): its
cross-attention key/value projections (``decoder_kv``), its attention or FFN sites, or all of it.
Every unit has a *stream* (METHODS §2): ``decoder`` units answer once per decoding step, ``encoder``
units once per input (the encoders, and the decoder's cross-attention K/V, which see only the
encoder output).
"""

from __future__ import annotations

#: the three stacks of a speech-text encoder-decoder
COMPONENTS = ("speech_encoder", "text_encoder", "text_decoder")
#: display names of the components
COMPONENT_NAMES = {"speech_encoder": "speech encoder", "text_encoder": "text encoder",
                   "text_decoder": "text decoder"}
#: the components a neuron set may be drawn from
SET_COMPONENTS = ("speech_encoder", "text_encoder", "text_decoder", "decoder_kv", "decoder_all", "decoder_attn",
                  "decoder_ffn", "all")
#: set components holding encoder-stream units (one value per input, forced on every step)
ENCODER_STREAM_COMPONENTS = ("speech_encoder", "text_encoder", "decoder_kv", "decoder_all")
#: how a unit's responses are pooled: per decoding step, or once per input
STREAMS = ("decoder", "encoder")
#: input modalities of a corpus record and a task
MODALITIES = ("speech", "text")
#: module kinds a site can be (models/sites.py gives each its channel axis)
SITE_KINDS = ("linear", "conv1d", "layernorm", "embedding", "glu", "post_act", "layer")
#: kinds outside the paper's default site set (METHODS §2): a component name does not select them
EXTRA_KINDS = ("layer",)
