"""PowerPoint decks: placeholder text, tables, pictures and charts of a merge."""
