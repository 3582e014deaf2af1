"""Reports: spreadsheet and CSV exports, PDF documents, SVG charts, portfolio snapshots, the
partner import and the questionnaire workbook round trip."""
