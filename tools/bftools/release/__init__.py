"""bftools.release: building the project's image and publishing it, the chart's images and the chart to a registry.

scripts/push-images runs push_images (python -m bftools.release.push_images); docs/registry.md describes the
registry side (Zot).
"""
