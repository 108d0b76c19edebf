"""Excel workbooks: cell references, grids, extraction rules, pictures, the size pre-check, updates."""
