"""Report folders: sections written as Markdown, JSON, CSV and PNG, replacing only what recalib wrote."""
