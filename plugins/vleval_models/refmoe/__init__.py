"""RefMoE: the reference family of tiny trained MoE vision-language encoders (see ``model``, ``adapter``, ``train``)."""
