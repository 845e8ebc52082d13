"""sagegan: segment and measure nanoparticles in electron-microscopy images from few labels."""

__version__ = "0.1.0"
