"""Hand-written PyTorch reference models: the independent truth for modelspec.

Each module here is written by hand, the way a researcher would write the model,
without reference to modelspec's emitters. Tests copy weights into a generated
model (by a name mapping) and compare outputs and parameter counts against these.

Modules:
    resnet     torchvision-style ``resnet18`` (state_dict keys identical to torchvision's)
    mithril    Mithril "Custom Models" examples (MLP, ConfigurableNetwork, ResNet, transformer)
    lstm       ``LSTMClassifier``
    dynvision  DynVision's ``DyRCNNx4`` with every recurrence type and optional feedback
    cornet     CORnet-RT as in dicarlolab/CORnet ``cornet_rt.py``
    cornet_s   CORnet-S as in dicarlolab/CORnet ``cornet_s.py`` (weights shared across passes)
"""
