"""The napari plugin (``pip install sagegan[napari]``; its npe2 manifest is ``napari.yaml``).

A dock widget for the human-in-the-loop cycle: segment the open image with the builtin model or a
run, correct the labels, save them into a dataset folder, fine-tune from the current model on the
corrected images and measure the particles. Only `widget` (Qt) and `viewer_layers` (napari's
layer list) import the viewer's packages; the other modules are plain Python over sagegan's own
functions, testable without Qt:

* `reader`: open an image with its pixel size (sagegan's calibration rule) as the layer's scale;
* `prediction`: a model loaded once, predicting files or in-memory images as `segment` does;
* `layers`: napari layer data (probability, labels, attention) in physical units;
* `corrections`: corrected labels into a dataset folder that `sagegan train` reads;
* `finetune`: ``sagegan train --init MODEL`` as a subprocess that is polled and cancellable;
* `measure`: the particle table of `sagegan analyze` for a labels layer.
"""
