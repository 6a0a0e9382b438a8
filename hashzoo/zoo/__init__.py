"""The model zoo: named presets, preset folders and archives, model cards, publishing.

`hashzoo.zoo.registry` lists the published presets (identity only: name,
method, where the archive lives, its sha256 and size), `hashzoo.zoo.presets`
reads and writes preset folders and downloads archives, `hashzoo.zoo.cards`
writes model cards from a preset's metadata, and `hashzoo.zoo.publish` turns a
training run into a published preset. User guide: docs/zoo.md.
"""
