"""Particle measurement, size statistics and spatial order in physical units."""

from sagegan.analysis.image import ImageAnalysis, OrderOptions, analyze_image
from sagegan.analysis.order import OrderReport, Window, order_metrics
from sagegan.analysis.particles import ParticleTable, measure_particles
from sagegan.analysis.run import AnalysisResult, analyze_images
from sagegan.analysis.sizes import LogNormalFit, fit_lognormal, size_summary

__all__ = [
    "AnalysisResult",
    "ImageAnalysis",
    "LogNormalFit",
    "OrderOptions",
    "OrderReport",
    "ParticleTable",
    "Window",
    "analyze_image",
    "analyze_images",
    "fit_lognormal",
    "measure_particles",
    "order_metrics",
    "size_summary",
]
