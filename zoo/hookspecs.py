"""The hooks a zoo plugin implements (pluggy project name "zoo", entry-point group "zoo").

A plugin is any module or object whose functions carry ``@zoo.hookimpl``; its
distribution points at it from ``[project.entry-points.zoo]``. The built-in
architectures are registered through these same hooks. See docs/plugins.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from weights_port import ConvertRule, PortRule

    from ._spec import Architecture

__all__ = ["PROJECT_NAME", "ZooHookSpecs", "hookimpl", "hookspec"]

PROJECT_NAME = "zoo"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class ZooHookSpecs:
    @hookspec
    def zoo_architectures(self) -> list[Architecture]:
        """Return the architectures this plugin adds.

        Each ``zoo.Architecture`` names its config parameters, input and output tensors,
        a Keras builder and a PyTorch builder. Import no framework at module level:
        builders import theirs when called, so ``zoo list`` stays fast and light.
        Names must be unique across all plugins; a clash is reported, the first stays.
        """
        raise NotImplementedError

    @hookspec
    def zoo_port_rules(self) -> list[PortRule]:
        """Return porting rules for custom Keras layers this plugin's models use.

        A ``weights_port.PortRule`` names the Keras class, the PyTorch module types it
        fills, and two pure NumPy functions (Keras arrays → state entries and back).
        """
        raise NotImplementedError

    @hookspec
    def zoo_convert_rules(self) -> list[ConvertRule]:
        """Return conversion rules (``zoo convert``) for custom Keras layers this plugin knows.

        A ``weights_port.ConvertRule`` names the Keras class and an ``emit`` function that
        hands the converter's ``Emitter`` typed pieces: the module (a real class copied into
        the generated file with ``emitter.helper``, built with constant arguments), its
        weights (through the plugin's ``PortRule``) and the steps of ``forward`` as
        expressions; the converter renders them through ``ast``. Optional.
        """
        raise NotImplementedError
